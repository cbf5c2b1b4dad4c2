"""Run infrastructure shared by every application: not algorithms.

- :mod:`~sparse_core.infra.io`: the dataset cache and checksummed fetching;
- :mod:`~sparse_core.infra.files`: atomic writes and file digests;
- :mod:`~sparse_core.infra.datasets`: real datasets shared by the apps (MNIST-5k);
- :mod:`~sparse_core.infra.runtime`: seeds, threads, devices, configs, run metadata;
- :mod:`~sparse_core.infra.settings`: declaring a config field once (default, bounds, help);
- :mod:`~sparse_core.infra.clikit`: the command line every application shares;
- :mod:`~sparse_core.infra.lazy`: lazy re-exports for package ``__init__`` files.
"""
