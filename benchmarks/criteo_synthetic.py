"""A synthetic Criteo-format file (gzipped) whose labels follow a hidden logistic rule.

The layout of Criteo's ``train.txt``: tab-separated, no header, the 0/1 label, 13 integer
fields (counts; some missing, some negative as in Criteo's I2) and 26 categorical fields
(8-digit hex tokens, some missing). Categorical values follow a Zipf law over a fixed
number of values per field (4 to 20,000), so the vocabularies saturate as the file grows.

Labels: ``P(click) = sigmoid(b + sum of hidden weights)``, where 8 of the 26 categorical
fields give every value a weight ``N(0, 0.7^2)`` and 5 of the 13 integers contribute
``beta * (log1p(count) - 1.5)``; the other fields are noise. The rule is drawn from
``--rule-seed`` (the same for every file size), the rows from ``--seed``; about 30% of
the rows are clicks (Criteo: 26%). The rule itself scores an AUC of about 0.87 on its
rows (printed for each file): the ceiling of what a model can reach.

Run:  .venv/bin/python benchmarks/criteo_synthetic.py --rows 100000 --out /tmp/criteo_1e5.txt.gz
Then: .venv/bin/sparseworks recsys ctr --data /tmp/criteo_1e5.txt.gz --format criteo --epochs 1 --threads 1
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np

from recsys.metrics import auc
from sparse_core.infra.files import atomic_write

NUMERIC, CATEGORICAL = 13, 26


class Rule:
    """The hidden generative model: value distributions and the logistic rule."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.cardinality = rng.permutation(np.geomspace(4, 20_000, CATEGORICAL).astype(int))
        self.tokens = [
            np.asarray([f"{x:08x}" for x in rng.integers(0, 2**32, c)], dtype=object) for c in self.cardinality
        ]
        self.zipf = [self._zipf(c) for c in self.cardinality]
        self.cat_missing = rng.choice([0.0, 0.0, 0.05, 0.2], CATEGORICAL)
        informative = rng.choice(CATEGORICAL, 8, replace=False)
        self.cat_weight = [
            rng.normal(0, 0.7, c) if j in informative else np.zeros(c) for j, c in enumerate(self.cardinality)
        ]
        self.num_mu = rng.uniform(0.0, 4.0, NUMERIC)
        self.num_missing = rng.choice([0.0, 0.1, 0.4], NUMERIC)
        self.num_beta = np.zeros(NUMERIC)
        self.num_beta[rng.choice(NUMERIC, 5, replace=False)] = rng.normal(0, 0.5, 5)
        self.bias = -1.6

    @staticmethod
    def _zipf(cardinality: int, exponent: float = 1.1) -> np.ndarray:
        p = 1.0 / np.arange(1, cardinality + 1) ** exponent
        return np.cumsum(p / p.sum())

    def sample(self, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Labels, click probabilities and the 39 columns as text for ``rows`` rows."""
        logit = np.full(rows, self.bias)
        columns: list[np.ndarray] = []
        for i in range(NUMERIC):
            counts = np.floor(np.exp(rng.normal(self.num_mu[i], 1.2, rows))).astype(np.int64) - (i == 1) * 3
            missing = rng.random(rows) < self.num_missing[i]
            logit += np.where(missing, 0.0, self.num_beta[i] * (np.log1p(np.maximum(counts, 0)) - 1.5))
            text = counts.astype(str).astype(object)
            text[missing] = ""
            columns.append(text)
        for j in range(CATEGORICAL):
            values = np.minimum(np.searchsorted(self.zipf[j], rng.random(rows)), self.cardinality[j] - 1)
            missing = rng.random(rows) < self.cat_missing[j]
            logit += np.where(missing, 0.0, self.cat_weight[j][values])
            text = self.tokens[j][values]
            text[missing] = ""
            columns.append(text)
        probability = 1.0 / (1.0 + np.exp(-logit))
        labels = (rng.random(rows) < probability).astype(np.int64)
        return labels, probability, columns


def write(path: Path, rows: int, seed: int, rule_seed: int, chunk_rows: int = 100_000) -> dict:
    """Writes the file (atomically); returns its row count, click rate and the rule's own AUC."""
    rule, rng = Rule(rule_seed), np.random.default_rng(seed)
    all_labels, all_probabilities = [], []
    with atomic_write(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=6, mtime=0) as out:
        for start in range(0, rows, chunk_rows):
            labels, probability, columns = rule.sample(min(chunk_rows, rows - start), rng)
            all_labels.append(labels)
            all_probabilities.append(probability)
            lines = ("\t".join(cells) for cells in zip(labels.astype(str), *columns))
            out.write(("\n".join(lines) + "\n").encode())
    labels, probabilities = np.concatenate(all_labels), np.concatenate(all_probabilities)
    return {
        "rows": rows,
        "click_rate": float(labels.mean()),
        "rule_auc": auc(labels, probabilities),
        "bytes": path.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, required=True, help="the .gz file to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rows")
    parser.add_argument("--rule-seed", type=int, default=2024, help="seed of the hidden rule")
    args = parser.parse_args()
    started = time.perf_counter()
    summary = write(args.out, args.rows, args.seed, args.rule_seed)
    print(
        f"{args.out}: {summary['rows']} rows, click rate {summary['click_rate']:.3f}, "
        f"AUC of the hidden rule {summary['rule_auc']:.4f}, {summary['bytes'] / 1e6:.1f} MB gzipped, "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
