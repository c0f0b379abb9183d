"""asv benchmarks: the scikit-learn estimators' predict next to the Booster's (issue 13 defect 14).

One row through ``GBMClassifier.predict_proba`` used to cost about 15x ``Booster.predict`` on
the same row (scikit-learn's input validation); the fast path brings numpy rows of the fitted
width and frames with exactly the fitted columns to within 2x. The estimator and Booster
timings here are of the same model on the same rows, so their ratio is the figure to watch.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import sapwood

from ._data import binary_classification

PARAMS = {"n_estimators": 100, "num_leaves": 63, "n_jobs": 2, "random_state": 0}
N_FEATURES = 32


def _names() -> list[str]:
    return [f"f{j}" for j in range(N_FEATURES)]


class Sklearn:
    """A classifier fitted on a float32 array, one fitted on a pandas frame and one on a polars
    frame (same data and trees); single rows and a batch of 10,000 rows."""

    def setup_cache(self) -> bytes:
        import pandas as pd

        X, y = binary_classification(20_000, N_FEATURES)
        models: dict[str, Any] = {
            "array": sapwood.GBMClassifier(**PARAMS).fit(X, y),
            "pandas": sapwood.GBMClassifier(**PARAMS).fit(pd.DataFrame(X, columns=_names()), y),
        }
        try:
            import polars as pl

            models["polars"] = sapwood.GBMClassifier(**PARAMS).fit(
                pl.from_numpy(X, schema=_names()), y)
        except ImportError:
            pass
        return pickle.dumps(models)

    # Three fits of 100 trees: more than asv's default minute on a busy 2-core machine.
    setup_cache.timeout = 600  # type: ignore[attr-defined]

    def setup(self, cache: bytes) -> None:
        import pandas as pd

        self.models = pickle.loads(cache)
        self.clf = self.models["array"]
        self.booster = self.clf.booster_
        self.X, _ = binary_classification(10_000, N_FEATURES, seed=1)
        self.row = self.X[:1].copy()
        self.row64 = self.row.astype(np.float64)
        self.df = pd.DataFrame(self.X, columns=_names())
        self.df_row = self.df.iloc[:1].copy()
        self.clf_pd = self.models["pandas"]
        self.clf_pl = self.models.get("polars")
        if self.clf_pl is not None:
            import polars as pl

            self.pl_row = pl.from_pandas(self.df_row)
            self.clf_pl.predict_proba(self.pl_row)
        # pack the forests once
        self.clf.predict_proba(self.row)
        self.clf_pd.predict_proba(self.df_row)

    # ---- one row: the Booster, then the estimator on an array and on frames
    def time_booster_single_row(self, cache: bytes) -> None:
        self.booster.predict(self.row)

    def time_predict_proba_single_row(self, cache: bytes) -> None:
        self.clf.predict_proba(self.row)

    def time_predict_single_row(self, cache: bytes) -> None:
        self.clf.predict(self.row)

    def time_predict_proba_single_row_float64(self, cache: bytes) -> None:
        self.clf.predict_proba(self.row64)

    def time_predict_proba_single_row_pandas(self, cache: bytes) -> None:
        self.clf_pd.predict_proba(self.df_row)

    def time_predict_proba_single_row_polars(self, cache: bytes) -> None:
        if self.clf_pl is None:
            raise NotImplementedError("polars is not installed")
        self.clf_pl.predict_proba(self.pl_row)

    # ---- a batch
    def time_booster_batch(self, cache: bytes) -> None:
        self.booster.predict(self.X)

    def time_predict_proba_batch(self, cache: bytes) -> None:
        self.clf.predict_proba(self.X)

    def time_predict_proba_batch_pandas(self, cache: bytes) -> None:
        self.clf_pd.predict_proba(self.df)

    def peakmem_predict_proba_batch(self, cache: bytes) -> None:
        self.clf.predict_proba(self.X)
