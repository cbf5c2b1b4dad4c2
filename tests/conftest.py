"""Suite-wide test settings: one torch thread (2-core machines), no GUI for matplotlib."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)
