"""asv benchmarks: binning, training and prediction on fixed-seed synthetic data."""

from __future__ import annotations

import numpy as np
import sapwood

from ._data import binary_classification

N_ROWS = 200_000


class Binning:
    def setup(self) -> None:
        self.X, self.y = binary_classification(N_ROWS)

    def time_fit_and_bin(self) -> None:
        ds = sapwood.Dataset(self.X, self.y)
        ds.construct(255, 200_000, 0, 2)

    def peakmem_fit_and_bin(self) -> None:
        ds = sapwood.Dataset(self.X, self.y)
        ds.construct(255, 200_000, 0, 2)


class Fit:
    PARAMS = {"objective": "binary", "n_estimators": 50, "num_leaves": 63, "n_jobs": 2,
              "random_state": 0}

    def setup(self) -> None:
        self.X, self.y = binary_classification(N_ROWS)
        self.Xte, self.yte = binary_classification(50_000, seed=1)

    def time_fit_binary(self) -> None:
        sapwood.train(self.PARAMS, sapwood.Dataset(self.X, self.y))

    def peakmem_fit_binary(self) -> None:
        sapwood.train(self.PARAMS, sapwood.Dataset(self.X, self.y))

    def track_test_auc(self) -> float:
        b = sapwood.train(self.PARAMS, sapwood.Dataset(self.X, self.y))
        return sapwood.metrics.auc(self.yte, b.predict(self.Xte))

    track_test_auc.unit = "AUC"  # type: ignore[attr-defined]


class Predict:
    def setup(self) -> None:
        X, y = binary_classification(N_ROWS)
        self.booster = sapwood.train(
            {"objective": "binary", "n_estimators": 100, "num_leaves": 63, "n_jobs": 2},
            sapwood.Dataset(X, y),
        )
        self.Xte, _ = binary_classification(100_000, seed=1)
        self.row = np.ascontiguousarray(self.Xte[:1])
        self.booster.predict(self.row, n_jobs=1)  # packs the forest once, outside the timing

    def time_predict_batch(self) -> None:
        self.booster.predict(self.Xte, n_jobs=2)

    def time_predict_single_row(self) -> None:
        self.booster.predict(self.row, n_jobs=1)

    def peakmem_predict_batch(self) -> None:
        self.booster.predict(self.Xte, n_jobs=2)


class FitRobust:
    """The robust losses (their leaf re-fit included), parameterised by objective."""

    params = ["l1", "huber", "quantile"]
    param_names = ["objective"]
    EXTRA = {"l1": {}, "huber": {"huber_delta": 1.0}, "quantile": {"alpha": 0.9}}

    def setup(self, objective: str) -> None:
        rng = np.random.default_rng(0)
        self.X = rng.standard_normal((N_ROWS, 8)).astype(np.float32)
        self.y = (2 * np.sin(self.X[:, 0]) + self.X[:, 1] ** 2
                  + rng.standard_t(2, N_ROWS)).astype(np.float64)
        self.params_ = {"objective": objective, "n_estimators": 50, "num_leaves": 63,
                        "n_jobs": 2, "random_state": 0, **self.EXTRA[objective]}

    def time_fit(self, objective: str) -> None:
        sapwood.train(self.params_, sapwood.Dataset(self.X, self.y), reference_profile=False)

    def peakmem_fit(self, objective: str) -> None:
        sapwood.train(self.params_, sapwood.Dataset(self.X, self.y), reference_profile=False)


class FitRankingSurvival:
    """lambdarank, rank_xendcg (10,000 queries of 5-35 documents, graded relevance 0-4) and cox
    (200,000 rows, 40% censored): their gradients run over queries and risk sets."""

    params = ["lambdarank", "rank_xendcg", "cox"]
    param_names = ["objective"]

    def setup(self, objective: str) -> None:
        rng = np.random.default_rng(0)
        if objective == "cox":
            self.X = rng.standard_normal((N_ROWS, 8)).astype(np.float32)
            log_haz = self.X[:, 0] - 0.5 * self.X[:, 1] + np.sin(self.X[:, 2])
            t = rng.exponential(1.0 / np.exp(log_haz))
            c = rng.exponential(1.5, N_ROWS)
            self.y = np.where(t <= c, t, -c).astype(np.float64)
            self.group = None
        else:
            sizes = rng.integers(5, 36, 10_000)
            n = int(sizes.sum())
            self.X = rng.standard_normal((n, 8)).astype(np.float32)
            s = self.X[:, 0] + 0.5 * self.X[:, 1] ** 2 + np.repeat(rng.normal(size=10_000), sizes)
            self.y = np.clip(np.floor(s + rng.normal(size=n)), 0, 4).astype(np.float64)
            self.group = sizes
        self.params_ = {"objective": objective, "n_estimators": 50, "num_leaves": 31,
                        "n_jobs": 2, "random_state": 0}

    def time_fit(self, objective: str) -> None:
        sapwood.train(self.params_, sapwood.Dataset(self.X, self.y, group=self.group),
                      reference_profile=False)

    def peakmem_fit(self, objective: str) -> None:
        sapwood.train(self.params_, sapwood.Dataset(self.X, self.y, group=self.group),
                      reference_profile=False)


class FitModes:
    """The engine's training modes side by side (issue 19): full-precision leaf-wise,
    quantized gradients, and CatBoost-style symmetric (oblivious) trees."""

    params = ["leafwise", "quantized", "oblivious"]
    param_names = ["mode"]
    MODES = {"leafwise": {}, "quantized": {"use_quantized_grad": True},
             "oblivious": {"grow_policy": "oblivious", "max_depth": 6}}

    def setup(self, mode: str) -> None:
        self.X, self.y = binary_classification(N_ROWS)
        self.Xte, self.yte = binary_classification(50_000, seed=1)
        self.p = {**Fit.PARAMS, **self.MODES[mode]}

    def time_fit(self, mode: str) -> None:
        sapwood.train(self.p, sapwood.Dataset(self.X, self.y))

    def track_test_auc(self, mode: str) -> float:
        b = sapwood.train(self.p, sapwood.Dataset(self.X, self.y))
        return sapwood.metrics.auc(self.yte, b.predict(self.Xte))

    track_test_auc.unit = "AUC"  # type: ignore[attr-defined]


class PredictOblivious:
    """The symmetric-tree predictor (level compares, leaf index from their bits) against the
    general bit-vector kernel on the same 300-tree, depth-6 forest."""

    params = ["auto", "bitvector-avx512"]
    param_names = ["kernel"]

    def setup(self, kernel: str) -> None:
        X, y = binary_classification(N_ROWS)
        self.booster = sapwood.train(
            {"objective": "binary", "n_estimators": 300, "grow_policy": "oblivious",
             "max_depth": 6, "n_jobs": 2}, sapwood.Dataset(X, y))
        self.Xte, _ = binary_classification(200_000, seed=1)
        self.row = np.ascontiguousarray(self.Xte[:1])
        self.booster.predict(self.row, n_jobs=1)  # pack the forest, then choose its kernel
        self.booster._get_forest().set_kernel(kernel)

    def time_batch(self, kernel: str) -> None:
        self.booster.predict(self.Xte, n_jobs=2)

    def time_single_row(self, kernel: str) -> None:
        self.booster.predict(self.row, n_jobs=1)
