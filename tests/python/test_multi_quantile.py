"""Multi-quantile: objective="quantile" with a list of levels trains one output per level whose
predictions never cross (each row's outputs are sorted: the rearrangement of Chernozhukov,
Fernandez-Val and Galichon 2010), in every prediction path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sapwood import _core
from sapwood.cli import main
from sapwood.dataset import Dataset
from sapwood.errors import ParameterError
from sapwood.metrics import interval_coverage, pinball, pinball_per_level

# close levels and a noisy target: the per-level models cross often before sorting
ALPHAS = [0.1, 0.3, 0.35, 0.4, 0.7, 0.9]
N_FEATURES = 4


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, N_FEATURES)).astype(np.float32)
    X[rng.random((n, N_FEATURES)) < 0.05] = np.nan
    x0 = np.nan_to_num(X[:, 0])
    x1 = np.nan_to_num(X[:, 1])
    y = 2.0 * x0 + np.sin(3 * x1) + (0.5 + np.abs(x1)) * rng.standard_normal(n)
    return X, y


@pytest.fixture(scope="module")
def model() -> sapwood.Booster:
    X, y = _data(3000, 0)
    params = {"objective": "quantile", "alpha": ALPHAS, "n_estimators": 40, "num_leaves": 15,
              "learning_rate": 0.3, "min_child_samples": 5, "n_jobs": 2}
    return sapwood.train(params, Dataset(X, y))


def _noncrossing(p: np.ndarray) -> bool:
    return bool(p.ndim == 2 and (np.diff(p, axis=1) >= 0).all())


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("alpha, needle", [
    ([0.5, 0.5], "strictly increasing"),
    ([0.9, 0.1], "strictly increasing"),
    ([0.0, 0.5], "in (0, 1)"),
    ([0.5, 1.0], "in (0, 1)"),
    ([float("nan"), 0.5], "NaN"),
    ([], "at least one"),
    ([0.1, "x"], "alpha[1]"),
])
def test_bad_levels_are_named(alpha: list, needle: str) -> None:
    X, y = _data(200, 1)
    with pytest.raises(ParameterError, match=needle.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        sapwood.train({"objective": "quantile", "alpha": alpha, "n_estimators": 2}, Dataset(X, y))


def test_core_refuses_levels_out_of_order() -> None:
    # the C++ objective checks the levels too (the parameters reach it from other callers)
    X, y = _data(200, 1)
    ds = Dataset(X, y)
    from sapwood._params import core_params, resolve_params

    cp = core_params(resolve_params({"objective": "quantile", "alpha": [0.2, 0.6]}))
    cp["alpha"] = [0.6, 0.2]
    with pytest.raises(ParameterError, match="strictly increasing"):
        _core.Trainer(ds.construct(255, 200_000, 0, 1, 5, "native", 64, 1.0), ds.label, None, cp)


def test_one_level_is_the_single_quantile_model() -> None:
    X, y = _data(500, 2)
    a = sapwood.train({"objective": "quantile", "alpha": [0.3], "n_estimators": 5}, Dataset(X, y))
    b = sapwood.train({"objective": "quantile", "alpha": 0.3, "n_estimators": 5}, Dataset(X, y))
    assert a.predict(X).shape == (500,)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


# ----------------------------------------------------------------------------- non-crossing
def test_shape_names_and_sorted_raw(model: sapwood.Booster) -> None:
    X, _ = _data(2000, 3)
    p = model.predict(X)
    raw = model.predict(X, output="raw")
    assert p.shape == (2000, len(ALPHAS)) and raw.shape == p.shape
    assert model.quantile_alphas == ALPHAS
    assert model.prediction_names == [f"prediction_q{a:g}" for a in ALPHAS]
    # the raw per-level margins do cross here (else this test would prove nothing) ...
    assert not _noncrossing(raw)
    # ... and the predictions are exactly those margins sorted per row (numpy's sort)
    np.testing.assert_array_equal(p, np.sort(raw, axis=1))


def test_each_output_is_its_single_level_model() -> None:
    # each output is grown and re-fitted at its own level, as a one-level model is: the raw
    # margins equal the single-level models' predictions
    X, y = _data(1500, 4)
    params = {"objective": "quantile", "n_estimators": 15, "num_leaves": 7, "n_jobs": 1}
    multi = sapwood.train({**params, "alpha": [0.2, 0.5, 0.8]}, Dataset(X, y))
    raw = multi.predict(X, output="raw")
    for k, a in enumerate([0.2, 0.5, 0.8]):
        single = sapwood.train({**params, "alpha": a}, Dataset(X, y))
        np.testing.assert_array_equal(raw[:, k], single.predict(X))


_TINY = float(np.finfo(np.float32).tiny)
_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False, width=32),
    # huge, tiny and missing values: far outside the training range
    st.sampled_from([float(np.float32(v)) for v in
                     (0.0, -0.0, _TINY, -_TINY, 1e30, -1e30, 3.4e38, -3.4e38, np.nan)]),
)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 40), st.just(N_FEATURES)),
                  elements=_values))
def test_never_cross_on_any_input(X: np.ndarray) -> None:
    b = _MODEL[0]
    outs = [
        b.predict(X),                                       # batch (fast path)
        b.predict(X.astype(np.float64), n_jobs=1),          # float64
        b.predict(pd.DataFrame(X, columns=b.feature_names)),  # table path
        np.stack([b.predict(X[i:i + 1])[0] for i in range(X.shape[0])]),  # single-row scorer
        b.predict_columns([np.ascontiguousarray(X[:, j]) for j in range(N_FEATURES)])
        if b.columns_kernel else b.predict(X),
    ]
    for p in outs:
        assert p.shape == (X.shape[0], len(ALPHAS))
        assert np.isfinite(p).all()
        assert _noncrossing(p)
        np.testing.assert_array_equal(p, outs[0])
    # the offset path adds offsets to the raw margins, then sorts
    off = np.linspace(-1, 1, X.shape[0] * len(ALPHAS)).reshape(X.shape[0], len(ALPHAS))
    assert _noncrossing(b.predict(X, init_score=off))


_MODEL: list[sapwood.Booster] = []


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_model(model: sapwood.Booster) -> None:
    _MODEL[:] = [model]


def test_transform_scores_sorts_rows() -> None:
    raw = np.array([[3.0, 1.0, 2.0], [np.inf, -np.inf, 0.0], [1.0, 1.0, 0.5]])
    _core.transform_scores("quantile", 3, raw, 1)
    np.testing.assert_array_equal(raw, [[1, 2, 3], [-np.inf, 0, np.inf], [0.5, 1, 1]])


# ----------------------------------------------------------------------------- accuracy
def test_pinball_against_single_models_and_lightgbm() -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = _data(8000, 5)
    Xt, yt = _data(4000, 6)
    alphas = [0.05, 0.5, 0.95]
    params = {"n_estimators": 60, "num_leaves": 15, "learning_rate": 0.1, "n_jobs": 2,
              "min_child_samples": 20}
    multi = sapwood.train({"objective": "quantile", "alpha": alphas, **params}, Dataset(X, y))
    p = multi.predict(Xt)
    raw = multi.predict(Xt, output="raw")
    ours = pinball_per_level(yt, p, None, alphas)
    for k, a in enumerate(alphas):
        single = sapwood.train({"objective": "quantile", "alpha": a, **params}, Dataset(X, y))
        ref = pinball(yt, single.predict(Xt), alpha=a)
        m = lgb.LGBMRegressor(objective="quantile", alpha=a, n_estimators=60, num_leaves=15,
                              learning_rate=0.1, min_child_samples=20, n_jobs=2, verbose=-1)
        m.fit(X, y)
        theirs = pinball(yt, m.predict(Xt), alpha=a)
        assert ours[k] <= ref * 1.01 + 1e-12, (a, ours[k], ref)
        assert ours[k] <= theirs * 1.05, (a, ours[k], theirs)
    # sorting never raises the summed loss over the levels, row by row (rearrangement)
    def rowloss(q: np.ndarray) -> np.ndarray:
        d = yt[:, None] - q
        return (np.where(d >= 0, np.asarray(alphas) * d, (np.asarray(alphas) - 1) * d)).sum(1)
    assert (rowloss(p) <= rowloss(raw) + 1e-9).all()
    cover = interval_coverage(yt, p[:, 0], p[:, -1])
    assert 0.8 < cover < 0.97


# ----------------------------------------------------------------------------- paths
def test_model_file_round_trip(model: sapwood.Booster, tmp_path: Path) -> None:
    X, _ = _data(300, 7)
    again = sapwood.Booster.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    model.save(tmp_path / "m.sapwood")
    loaded = sapwood.load(tmp_path / "m.sapwood")
    assert loaded.quantile_alphas == ALPHAS and loaded.num_outputs == len(ALPHAS)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_training_metric_and_early_stopping() -> None:
    X, y = _data(2000, 8)
    Xv, yv = _data(800, 9)
    b = sapwood.train({"objective": "quantile", "alpha": [0.1, 0.9], "n_estimators": 20},
                      Dataset(X, y), valid_sets=[Dataset(Xv, yv)], valid_names=["v"])
    got = b.evals_result["v"]["pinball"][-1]
    assert got == pytest.approx(float(np.mean(pinball_per_level(yv, b.predict(Xv), None,
                                                                [0.1, 0.9]))))


def test_continued_training_equals_training_at_once() -> None:
    X, y = _data(1500, 10)
    params = {"objective": "quantile", "alpha": [0.25, 0.75], "num_leaves": 7, "n_jobs": 1}
    whole = sapwood.train({**params, "n_estimators": 10}, Dataset(X, y))
    first = sapwood.train({**params, "n_estimators": 4}, Dataset(X, y))
    rest = sapwood.train({**params, "n_estimators": 6}, Dataset(X, y), init_model=first)
    np.testing.assert_array_equal(rest.predict(X), whole.predict(X))


def test_sklearn_estimator() -> None:
    from sapwood.train.sklearn import GBMRegressor

    X, y = _data(1500, 11)
    est = GBMRegressor(objective="quantile", alpha=[0.1, 0.5, 0.9], n_estimators=20).fit(X, y)
    p = est.predict(X)
    assert p.shape == (1500, 3) and _noncrossing(p)
    assert est.score(X, y) == pytest.approx(-pinball(y, p, alpha=[0.1, 0.5, 0.9]))
    with pytest.raises(ParameterError, match="strictly increasing"):
        GBMRegressor(objective="quantile", alpha=[0.5, 0.1], n_estimators=2).fit(X, y)


def test_xgboost_export_refuses_rather_than_cross(model: sapwood.Booster) -> None:
    with pytest.raises(ParameterError, match="multi-quantile"):
        model.to_xgboost_json()


@pytest.mark.parametrize("opset", [3, 5])
def test_onnx_export_sorts_the_levels(model: sapwood.Booster, opset: int) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    X, _ = _data(3000, 15)
    X[::50] *= np.float32(1e20)  # far outside the training range
    sess = ort.InferenceSession(model.to_onnx(opset=opset).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": X})[0]
    assert got.shape == (3000, len(ALPHAS)) and _noncrossing(got)
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-5, atol=1e-4)
    raw = ort.InferenceSession(model.to_onnx(output="raw", opset=opset).SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    np.testing.assert_allclose(raw, model.predict(X, output="raw"), rtol=1e-5, atol=1e-4)
    assert not _noncrossing(raw)


def test_cuda_transform_code() -> None:
    from sapwood import objectives

    info = objectives.get("quantile")
    assert info.link_for(1) == "identity" and info.link_for(3) == "sort"
    assert info.transform_code_for(1) == 0 and info.transform_code_for(3) == 4
    raw = np.array([[2.0, -1.0, 0.5]])
    np.testing.assert_array_equal(objectives.link_transform("sort", raw), [[-1.0, 0.5, 2.0]])


TRAIN_TOML = """\
[data]
path = "train.parquet"
label = "y"
[params]
objective = "quantile"
alpha = [0.05, 0.5, 0.95]
n_estimators = 30
num_leaves = 15
n_jobs = 1
[output]
path = "model.sapwood"
"""

CRITERIA = """\
label = "y"
[metrics]
pinball = "<= 10"
"""


def test_cli_train_score_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _data(2000, 12)
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(N_FEATURES)])
    df["y"] = y
    df.iloc[:1500].to_parquet(tmp_path / "train.parquet")
    test = df.iloc[1500:].reset_index(drop=True)
    test.to_parquet(tmp_path / "test.parquet")
    (tmp_path / "train.toml").write_text(TRAIN_TOML)
    (tmp_path / "acc.toml").write_text(CRITERIA)
    assert main(["train", str(tmp_path / "train.toml"), "--no-progress"]) == 0
    b = sapwood.load(tmp_path / "model.sapwood")
    assert b.quantile_alphas == [0.05, 0.5, 0.95]
    expected = b.predict(test[b.feature_names])

    assert main(["score", str(tmp_path / "model.sapwood"), str(tmp_path / "test.parquet"),
                 "-o", str(tmp_path / "out.parquet"), "--no-progress"]) == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    names = ["prediction_q0.05", "prediction_q0.5", "prediction_q0.95"]
    assert list(out.columns) == names
    np.testing.assert_array_equal(out[names].to_numpy(), expected)

    capsys.readouterr()
    rc = main(["validate", str(tmp_path / "model.sapwood"), "--data",
               str(tmp_path / "test.parquet"), "--criteria", str(tmp_path / "acc.toml"),
               "--report", str(tmp_path / "r.json")])
    assert rc == 0
    report = json.loads((tmp_path / "r.json").read_text())
    per = pinball_per_level(test.y, expected, None, [0.05, 0.5, 0.95])
    q = report["quantiles"]
    assert q["levels"] == [0.05, 0.5, 0.95]
    assert [q["pinball"][k] for k in ("0.05", "0.5", "0.95")] == pytest.approx(per)
    assert report["metrics"]["pinball"] == pytest.approx(float(np.mean(per)))
    inside = ((test.y >= expected[:, 0]) & (test.y <= expected[:, 2])).mean()
    assert q["coverage"]["observed"] == pytest.approx(inside)
    assert q["coverage"]["nominal"] == pytest.approx(0.9)
    text = capsys.readouterr().out
    assert "coverage of [q0.05, q0.95]" in text


def test_validate_refuses_single_value_metrics(tmp_path: Path) -> None:
    from sapwood.errors import DataError
    from sapwood.validation.criteria import parse_criteria
    from sapwood.validation.gates import evaluate

    X, y = _data(600, 13)
    b = sapwood.train({"objective": "quantile", "alpha": [0.2, 0.8], "n_estimators": 5},
                      Dataset(pd.DataFrame(X, columns=[f"f{j}" for j in range(N_FEATURES)]), y))
    df = pd.DataFrame(X, columns=b.feature_names)
    df["y"] = y
    c = parse_criteria({"label": "y", "metrics": {"rmse": "<= 10"}})
    with pytest.raises(DataError, match="multi-quantile"):
        evaluate(b, df, c)


def test_serve_and_dask_scoring_name_levels(model: sapwood.Booster) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import dask
    import sapwood.dask as sdask

    X, _ = _data(400, 14)
    df = pd.DataFrame(X, columns=model.feature_names)
    with dask.config.set(scheduler="synchronous"):
        got = sdask.predict(model, dd.from_pandas(df, npartitions=3)).compute()
    assert list(got.columns) == model.prediction_names
    np.testing.assert_array_equal(got.to_numpy(), model.predict(df))
