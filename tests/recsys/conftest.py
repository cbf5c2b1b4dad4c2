import gzip
from pathlib import Path

import numpy as np
import pytest

from recsys.data.movielens import CTR_FIELDS, CTRTable, Interactions
from recsys.data.splits import split_per_user


def synthetic_interactions(users=40, items=60, per_user=12, seed=0) -> Interactions:
    """Two taste groups: even users like even items, odd users odd items (learnable)."""
    rng = np.random.default_rng(seed)
    u, i = [], []
    for user in range(users):
        pool = np.arange(user % 2, items, 2)
        chosen = rng.choice(pool, per_user, replace=False)
        u += [user] * per_user
        i += chosen.tolist()
    return Interactions(
        np.array(u), np.array(i), users, items, tuple(map(str, range(users))), tuple(map(str, range(items)))
    )


@pytest.fixture
def topk_split():
    return split_per_user(synthetic_interactions(), test_fraction=0.2, valid_fraction=0.1, seed=1)


@pytest.fixture
def ctr_table():
    rng = np.random.default_rng(0)
    rows = 3000
    values = {f: rng.integers(0, 6, rows).astype(str).astype(object) for f in CTR_FIELDS}
    logits = (values["genre"].astype(int) - 2.5) + (values["age"].astype(int) % 2)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return CTRTable(CTR_FIELDS, values, labels)


ML100K_HEADERS = {
    "inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float",
    "user": "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
    "item": "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
}


def fake_ml100k_texts(users=6, items=8, seed=0) -> dict[str, str]:
    """The three ml-100k atomic files, small and valid: every user rated every second item."""
    rng = np.random.default_rng(seed)
    inter = [
        f"{u}\t{i}\t{int(rng.integers(1, 6))}\t{880000000 + 1000 * u + i}"
        for u in range(1, users + 1)
        for i in range(1 + u % 2, items + 1, 2)
    ]
    user = [f"{u}\t{20 + 3 * u}\t{'MF'[u % 2]}\tother\t{10000 + u}" for u in range(1, users + 1)]
    item = [f"{i}\tMovie {i}\t{1950 + 5 * i}\tDrama Comedy" for i in range(1, items + 1)]
    return {
        kind: "\n".join([ML100K_HEADERS[kind], *rows]) + "\n"
        for kind, rows in (("inter", inter), ("user", user), ("item", item))
    }


def write_ml100k(folder, texts: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for kind, text in texts.items():
        data = text if isinstance(text, bytes) else text.encode()
        (folder / f"ml-100k.{kind}").write_bytes(data)
    return folder


def criteo_lines(rows, seed=0):
    """Criteo-format rows: label, 13 integers (some missing), 26 categorical tokens (some missing)."""
    rng = np.random.default_rng(seed)
    lines = []
    for r in range(rows):
        c = [f"v{int(rng.integers(0, 4))}" for _ in range(26)]
        label = int(rng.random() < (0.8 if c[0] == "v0" else 0.2))
        n = ["" if (r + k) % 9 == 0 else str(int(rng.integers(-2, 60))) for k in range(13)]
        lines.append("\t".join([str(label), *n, *c]))
    return lines


def write_criteo(path: Path, rows=200, seed=0, gz=True, extra=()):
    text = "\n".join([*criteo_lines(rows, seed), *extra]) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def write_inter(folder: Path, users=30, items=40, per_user=15, seed=0, name="shop.inter"):
    """A user's RecBole-layout folder: one .inter file, two taste groups (learnable), ratings and times."""
    rng = np.random.default_rng(seed)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(users):
        for item in rng.choice(np.arange(user % 2, items, 2), per_user, replace=False):
            lines.append(f"u{user}\ti{item}\t{int(rng.integers(1, 6))}\t{int(rng.integers(1e9, 2e9))}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n")
    return folder
