from __future__ import annotations

import numpy as np
import pytest


def make_classification(n: int, m: int = 8, seed: int = 0, classes: int = 2,
                        nan_share: float = 0.0, signal: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    w = signal * rng.standard_normal((m, classes))
    logits = X @ w + 0.8 * np.sin(2 * X[:, :1]) - 0.5 * np.abs(X[:, 1:2])
    if classes == 2:
        p = 1 / (1 + np.exp(-(logits[:, 0] - logits[:, 1])))
        y = (rng.random(n) < p).astype(np.float64)
    else:
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y = np.array([rng.choice(classes, p=pi) for pi in p], dtype=np.float64)
    if nan_share:
        X[rng.random(X.shape) < nan_share] = np.nan
    return X, y


def make_regression(n: int, m: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.3 * rng.standard_normal(n)
    return X, y


@pytest.fixture
def binary_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(20000, seed=1, nan_share=0.05, signal=3.0)
