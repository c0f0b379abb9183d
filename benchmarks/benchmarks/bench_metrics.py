"""asv benchmarks: ROC AUC and average precision (C++ core) next to scikit-learn's."""

from __future__ import annotations

import numpy as np
from sapwood import metrics


def _scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    s = 1.0 / (1.0 + np.exp(-(rng.standard_normal(n) + y)))  # probabilities, like a model's
    w = rng.random(n)
    return y, s, w


class RocAuc:
    params = [100_000, 1_000_000]
    param_names = ["n_rows"]

    def setup(self, n: int) -> None:
        self.y, self.s, self.w = _scores(n)

    def time_sapwood_roc_auc(self, n: int) -> None:
        metrics.roc_auc(self.y, self.s)

    def time_sapwood_roc_auc_weighted(self, n: int) -> None:
        metrics.roc_auc(self.y, self.s, self.w)

    def time_sklearn_roc_auc(self, n: int) -> None:
        from sklearn.metrics import roc_auc_score

        roc_auc_score(self.y, self.s)

    def time_sapwood_pr_auc(self, n: int) -> None:
        metrics.pr_auc(self.y, self.s)

    def peakmem_sapwood_roc_auc(self, n: int) -> None:
        metrics.roc_auc(self.y, self.s)

    def track_roc_auc_abs_diff_vs_sklearn(self, n: int) -> float:
        from sklearn.metrics import roc_auc_score

        return abs(metrics.roc_auc(self.y, self.s) - roc_auc_score(self.y, self.s))
