"""Fixed-seed synthetic data shared by the benchmarks (sized for a 2-core machine)."""

from __future__ import annotations

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
