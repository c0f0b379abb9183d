"""cv(), tune() and the ProgressBar / MLflowLogger callbacks."""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import numpy as np
import pytest
import sapwood
from sapwood.train.crossval import make_folds
from sklearn.metrics import roc_auc_score


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


def test_make_folds_kinds() -> None:
    y = np.array([0] * 80 + [1] * 20, dtype=float)
    for tr, va in make_folds(100, 5, label=y, stratified=True):
        assert np.sum(y[va] == 1) == 4 and va.size == 20
        assert np.intersect1d(tr, va).size == 0 and tr.size + va.size == 100
    groups = np.repeat(np.arange(10), 10)
    seen = []
    for tr, va in make_folds(100, 5, groups=groups):
        assert not set(groups[tr]) & set(groups[va])
        seen.append(va)
    assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(100))
    t = np.random.default_rng(0).permutation(100).astype(float)
    for tr, va in make_folds(100, 4, time=t):
        assert t[tr].max() < t[va].min()
    with pytest.raises(sapwood.ParameterError):
        make_folds(100, 1)
    with pytest.raises(sapwood.DataError, match="row 3"):
        make_folds(5, 2, time=[0, 1, 2, np.nan, 4])


def test_cv_matches_manual_folds_and_returns_models() -> None:
    X, y = _data()
    ds = sapwood.Dataset(X, y)
    params = {"objective": "binary", "n_estimators": 30, "metric": ["auc", "logloss"]}
    res = sapwood.cv(params, ds, folds=3, early_stopping_rounds=5)
    assert len(res.models) == 3 and len(res.folds) == 3
    assert set(res.history) == {"auc", "logloss"}
    assert res.metric == "auc"
    mean = res.history["auc"]["mean"]
    assert res.best_iteration == int(np.argmax(mean)) + 1
    # the per-iteration mean is the mean of each fold model's own validation score
    it = res.best_iteration
    scores = [roc_auc_score(y[va], m.predict(X[va], iteration_range=(0, it)))
              for m, (_, va) in zip(res.models, res.folds, strict=True)]
    assert np.mean(scores) == pytest.approx(res.best_score["auc"], rel=1e-9)
    assert all(b is None or 1 <= b <= 30 for b in res.fold_best_iteration)
    # seeded: the same call gives the same result
    again = sapwood.cv(params, ds, folds=3, early_stopping_rounds=5)
    assert again.history == res.history


def test_cv_groups_and_time_column() -> None:
    X, y = _data()
    ds = sapwood.Dataset(X, y, feature_names=["a", "b", "t", "d"])
    g = np.arange(600) // 30
    res = sapwood.cv({"objective": "binary", "n_estimators": 5}, ds, folds=4, groups=g)
    for tr, va in res.folds:
        assert not set(g[tr]) & set(g[va])
    res = sapwood.cv({"objective": "binary", "n_estimators": 5}, ds, folds=3, time_column="t")
    for tr, va in res.folds:
        assert X[tr, 2].max() <= X[va, 2].min()
    with pytest.raises(sapwood.DataError, match="time_column"):
        sapwood.cv({"objective": "binary"}, ds, time_column="nope")


def test_tune_random_search_is_seeded() -> None:
    X, y = _data(400)
    ds = sapwood.Dataset(X, y)
    space = {"objective": "binary", "n_estimators": 15, "num_leaves": (4, 16),
             "learning_rate": {"low": 0.05, "high": 0.3, "log": True},
             "min_child_samples": [5, 20]}
    r1 = sapwood.tune(space, ds, n_trials=3, use_optuna=False, seed=1)
    r2 = sapwood.tune(space, ds, n_trials=3, use_optuna=False, seed=1)
    assert [t.params for t in r1.trials] == [t.params for t in r2.trials]
    assert r1.best_score == r2.best_score
    assert r1.metric == "logloss"
    assert r1.best_score == min(t.score for t in r1.trials)
    for t in r1.trials:
        assert 4 <= t.params["num_leaves"] <= 16 and isinstance(t.params["num_leaves"], int)
        assert 0.05 <= t.params["learning_rate"] <= 0.3
    assert r1.best_params["objective"] == "binary"
    with pytest.raises(sapwood.ParameterError, match="num_leaves"):
        sapwood.tune({"num_leaves": (10, 2)}, ds, n_trials=1)


def test_progress_bar_writes_to_its_stream() -> None:
    X, y = _data(300)
    ds = sapwood.Dataset(X, y)
    out = io.StringIO()
    sapwood.train({"objective": "binary", "n_estimators": 7}, ds, valid_sets=[ds],
                  callbacks=[sapwood.ProgressBar(stream=out)])
    text = out.getvalue()
    assert "7/7" in text


class _FakeMlflow(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("mlflow")
        self.calls: list[tuple[str, Any]] = []
        self._active = False

    def active_run(self) -> Any:
        return object() if self._active else None

    def start_run(self, run_name: str | None = None) -> None:
        self._active = True
        self.calls.append(("start_run", run_name))

    def end_run(self) -> None:
        self._active = False
        self.calls.append(("end_run", None))

    def log_params(self, p: dict[str, Any]) -> None:
        self.calls.append(("log_params", p))

    def log_metrics(self, m: dict[str, float], step: int) -> None:
        self.calls.append(("log_metrics", (m, step)))

    def log_metric(self, k: str, v: float) -> None:
        self.calls.append(("log_metric", (k, v)))

    def log_artifact(self, path: str) -> None:
        with open(path, "rb") as f:
            self.calls.append(("log_artifact", f.read()))


def test_mlflow_logger_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeMlflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    X, y = _data(300)
    ds = sapwood.Dataset(X, y)
    b = sapwood.train({"objective": "binary", "n_estimators": 4}, ds, valid_sets=[ds],
                      valid_names=["train"], callbacks=[sapwood.MLflowLogger(run_name="r")])
    kinds = [c[0] for c in fake.calls]
    assert kinds[0] == "start_run" and kinds[-1] == "end_run"
    assert kinds.count("log_metrics") == 4
    steps = [c[1][1] for c in fake.calls if c[0] == "log_metrics"]
    assert steps == [0, 1, 2, 3]
    art = next(c[1] for c in fake.calls if c[0] == "log_artifact")
    assert sapwood.Booster.from_bytes(art).to_bytes() == b.to_bytes()


def test_mlflow_logger_real_file_store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 gates the file store
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())  # a new folder: default experiment
    X, y = _data(300)
    ds = sapwood.Dataset(X, y)
    sapwood.train({"objective": "binary", "n_estimators": 3}, ds, valid_sets=[ds],
                  valid_names=["train"], callbacks=[sapwood.MLflowLogger()])
    runs = mlflow.search_runs()
    assert len(runs) == 1
    assert "metrics.train-logloss" in runs.columns


def test_tune_with_optuna_is_seeded() -> None:
    pytest.importorskip("optuna")
    X, y = _data(400)
    ds = sapwood.Dataset(X, y)
    space = {"objective": "binary", "n_estimators": 10, "num_leaves": (4, 16),
             "learning_rate": {"low": 0.05, "high": 0.3, "log": True}}
    r1 = sapwood.tune(space, ds, n_trials=4, use_optuna=True, seed=3)
    r2 = sapwood.tune(space, ds, n_trials=4, use_optuna=True, seed=3)
    assert r1.sampler == "optuna-tpe"
    assert [t.params for t in r1.trials] == [t.params for t in r2.trials]
    assert r1.best_score == r2.best_score
    assert 4 <= r1.best_params["num_leaves"] <= 16
