"""Write the stored sample model files of the current format version (run once per version).

    python tests/data/make_sample_models.py

Each format version's files stay in tests/data/ for good: tests/python/test_io.py checks that
every later sapwood still loads them and scores rows to the stored predictions exactly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import sapwood

HERE = Path(__file__).parent


def main() -> int:
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01: a fixed created_at
    v = sapwood.model.format.FORMAT_VERSION
    rng = np.random.default_rng(20260101)
    X = rng.standard_normal((300, 6)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:, 5] = np.round(X[:, 5] * 2)  # a few repeated values
    logit = X[:, 0] - 0.5 * np.nan_to_num(X[:, 1]) + np.nan_to_num(X[:, 2]) * np.nan_to_num(X[:, 3])
    y_bin = (logit + rng.logistic(size=300) > 0).astype(np.float64)
    y_multi = np.digitize(np.nan_to_num(logit), [-0.7, 0.7]).astype(np.float64)
    names = [f"x{i}" for i in range(6)]
    np.save(HERE / f"sample_X_v{v}.npy", X)
    for kind, y, params in (
        ("binary", y_bin, {"objective": "binary"}),
        ("multiclass", y_multi, {"objective": "multiclass", "num_class": 3}),
    ):
        ds = sapwood.Dataset(X, y, feature_names=names)
        b = sapwood.train({**params, "n_estimators": 12, "num_leaves": 8, "learning_rate": 0.3,
                           "min_child_samples": 5, "n_jobs": 1},
                          ds, valid_sets=[ds], valid_names=["train"])
        b.tags = {"purpose": "format sample", "format_version": v}
        b.save(HERE / f"sample_{kind}_v{v}.sapwood")
        np.save(HERE / f"sample_{kind}_v{v}_pred.npy", b.predict(X))
    return 0


if __name__ == "__main__":
    sys.exit(main())
