"""asv benchmarks: batch scoring, single-row latency and TreeSHAP (small sizes, 2 threads)."""

from __future__ import annotations

import numpy as np
import sapwood

from ._data import binary_classification


class Predict:
    PARAMS = {"objective": "binary", "n_estimators": 100, "num_leaves": 63, "n_jobs": 2,
              "random_state": 0}

    def setup(self) -> None:
        X, y = binary_classification(20_000)
        self.booster = sapwood.train(self.PARAMS, sapwood.Dataset(X, y))
        self.X, _ = binary_classification(100_000, seed=1)
        self.X64 = self.X.astype(np.float64)
        self.XF = np.asfortranarray(self.X)
        self.row = self.X[:1].copy()
        self.rows100 = self.X[:100].copy()
        self.booster.predict(self.row)  # pack the forest once

    def time_batch_float32(self) -> None:
        self.booster.predict(self.X)

    def time_batch_float64(self) -> None:
        self.booster.predict(self.X64)

    def time_batch_fortran(self) -> None:
        self.booster.predict(self.XF)

    def time_single_row(self) -> None:
        self.booster.predict(self.row)

    def time_batch_100(self) -> None:
        self.booster.predict(self.rows100)

    def time_contrib_1000(self) -> None:
        self.booster.predict(self.X[:1000], output="contrib")

    def peakmem_batch_float32(self) -> None:
        self.booster.predict(self.X)


class PredictKernels:
    """Each rank-coded kernel chosen for the forest in turn (batch of 20k rows, one row); "auto"
    is the choice per shape and call. Kernels the forest or CPU lacks fall back to portable
    ones ("super"; "bitvector-avx512" without AVX-512: the AVX2 bit vectors)."""

    params = ["auto", "bitvector-avx512", "bitvector-avx2", "lockstep-avx2", "super"]
    param_names = ["kernel"]

    def setup(self, kernel: str) -> None:
        X, y = binary_classification(20_000)
        self.booster = sapwood.train(Predict.PARAMS, sapwood.Dataset(X, y))
        self.X, _ = binary_classification(20_000, seed=1)
        self.row = self.X[:1].copy()
        self.booster.predict(self.row)  # pack the forest, then choose its kernel
        self.booster._get_forest().set_kernel(kernel)

    def time_batch(self, kernel: str) -> None:
        self.booster.predict(self.X)

    def time_single_row(self, kernel: str) -> None:
        self.booster.predict(self.row)
