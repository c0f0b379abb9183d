"""Export: ONNX (scored by ONNX Runtime) and XGBoost JSON (scored by XGBoost) against
``Booster.predict``, on random trees with every split type, trained and imported models."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood.cli.main import main as cli_main
from sapwood.model import Booster, ModelBuilder
from test_predict import GRID, random_rows, random_tree

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
xgb = pytest.importorskip("xgboost")

RTOL = ATOL = 1e-5


def onnx_predict(model: object, X: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(),  # type: ignore[attr-defined]
                                providers=["CPUExecutionProvider"])
    out: np.ndarray = sess.run(None, {"input": np.ascontiguousarray(X, np.float32)})[0]
    return out


def xgb_predict(b: Booster, X: np.ndarray, margin: bool = False) -> np.ndarray:
    xb = xgb.Booster(model_file=bytearray(b.to_xgboost_json().encode()))
    types = json.loads(b.to_xgboost_json())["learner"]["feature_types"]
    d = xgb.DMatrix(np.ascontiguousarray(X, np.float32), missing=np.nan,
                    feature_names=b.feature_names, feature_types=types,
                    enable_categorical="c" in types)
    out: np.ndarray = xb.predict(d, output_margin=margin)
    return out


def close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def build(trees: list[dict[str, np.ndarray]], m: int, objective: str, k: int,
          rng: np.random.Generator) -> Booster:
    init = rng.normal(0, 0.5, size=k) if objective != "binary" else [0.3]
    mb = ModelBuilder(objective, feature_names=[f"f{i}" for i in range(m)],
                      num_class=k if k > 1 else 1, init_score=init)
    for t in trees:
        mb.add_tree(t)
    return Booster.from_builder(mb)


def rows_with_thresholds(rng: np.random.Generator, trees: list[dict[str, np.ndarray]],
                         n: int, m: int) -> np.ndarray:
    X = random_rows(rng, n, m)
    thr = np.concatenate([t["threshold"][t["feature"] >= 0] for t in trees] + [GRID])
    on = rng.random(X.shape) < 0.3
    X[on] = rng.choice(thr, size=int(on.sum()))
    return X


OBJECTIVES = [("regression", 1), ("binary", 1), ("multiclass", 3), ("poisson", 1),
              ("gamma", 1), ("tweedie", 1)]


# ----------------------------------------------------------------------------- random trees
@settings(derandomize=True, deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), special=st.booleans(),
       obj=st.sampled_from(OBJECTIVES))
def test_onnx_matches_predict_on_random_trees(seed: int, special: bool,
                                              obj: tuple[str, int]) -> None:
    """Every split type (numeric, zero-as-missing, categorical) with NaN, +-inf, +-0, tiny
    values and values exactly on thresholds, scored by ONNX Runtime."""
    objective, k = obj
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 6))
    trees = [random_tree(rng, m, int(rng.integers(1, 20)), special)
             for _ in range(int(rng.integers(1, 6)) * k)]
    b = build(trees, m, objective, k, rng)
    X = rows_with_thresholds(rng, trees, 200, m)
    close(onnx_predict(b.to_onnx(), X), b.predict(X))
    close(onnx_predict(b.to_onnx(output="raw"), X), b.predict(X, output="raw"))


@settings(derandomize=True, deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), special=st.booleans(),
       obj=st.sampled_from(OBJECTIVES))
def test_xgboost_json_matches_predict_on_random_trees(seed: int, special: bool,
                                                      obj: tuple[str, int]) -> None:
    objective, k = obj
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 6))
    trees = [random_tree(rng, m, int(rng.integers(1, 20)), special)
             for _ in range(int(rng.integers(1, 6)) * k)]
    if special:
        # XGBoost reads a categorical feature as category codes (no categorical splits on a
        # feature that also has numeric ones: XGBoost types a whole column)
        for t in trees:
            cat = t["split_type"] == 2
            t["split_type"][(t["feature"] == 0) & ~cat & (t["feature"] >= 0)] = 0
            t["split_type"][(t["feature"] != 0) & cat] = 0
            t["feature"][cat] = 0
    b = build(trees, m, objective, k, rng)
    X = rows_with_thresholds(rng, trees, 200, m)
    # XGBoost refuses infinite inputs (DMatrix): the largest finite floats stand in
    X[np.isposinf(X)], X[np.isneginf(X)] = np.finfo(np.float32).max, np.finfo(np.float32).min
    if special:  # codes: whole numbers 0..70 (past every set), and missing
        codes = rng.integers(0, 70, size=X.shape[0]).astype(np.float32)
        codes[rng.random(X.shape[0]) < 0.1] = np.nan
        X[:, 0] = codes
    close(xgb_predict(b, X, margin=True), b.predict(X, output="raw"))
    close(xgb_predict(b, X), b.predict(X))


def zero_as_missing_tree(threshold: float, default_left: int) -> dict[str, np.ndarray]:
    """A zero-as-missing split over two leaves."""
    return {"feature": np.array([0, -1, -1], np.int32),
            "threshold": np.array([threshold, 0, 0], np.float32),
            "default_left": np.array([default_left, 0, 0], np.uint8),
            "left": np.array([1, -1, -1], np.int32), "right": np.array([2, -1, -1], np.int32),
            "value": np.array([0.0, -1.0, 1.0]),
            "split_type": np.array([1, 0, 0], np.uint8),
            "cat_begin": np.zeros(3, np.int32), "cat_size": np.zeros(3, np.int32),
            "cat_bits": np.zeros(0, np.uint32)}


@pytest.mark.parametrize("threshold", [-2.5, -1e-35, -1e-36, 0.0, 1e-36, 1e-35, 0.5])
@pytest.mark.parametrize("default_left", [0, 1])
def test_zero_as_missing_splits_export_exactly(threshold: float, default_left: int) -> None:
    """The cases one XGBoost split cannot express (missing side right with a threshold above
    zero, left with one below) are rewritten as three splits; every case equals predict."""
    mb = ModelBuilder("regression", feature_names=["x"])
    mb.add_tree(zero_as_missing_tree(threshold, default_left))
    b = Booster.from_builder(mb)
    z = np.float32(1e-35)
    vals = [np.nan, 0.0, -0.0, 1e-36, -1e-36, z, -z, np.nextafter(z, np.float32(1)),
            np.nextafter(-z, np.float32(-1)), threshold, np.nextafter(np.float32(threshold),
                                                                       np.float32(9)),
            -3.0, -1.0, 0.25, 2.0, 3e38, -3e38]
    X = np.array(vals, np.float32).reshape(-1, 1)
    want = b.predict(X)
    np.testing.assert_array_equal(xgb_predict(b, X), want)
    X = np.concatenate([X, [[np.inf], [-np.inf]]]).astype(np.float32)
    np.testing.assert_array_equal(onnx_predict(b.to_onnx(), X), b.predict(X))


# ----------------------------------------------------------------------------- trained models
def frame(n: int, seed: int):  # type: ignore[no-untyped-def]
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "shop": pd.Categorical(rng.choice(list("pqrstuvw"), n))})
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    X.loc[rng.random(n) < 0.05, "shop"] = np.nan
    return X


@pytest.mark.parametrize("objective", ["regression", "binary", "multiclass", "poisson"])
def test_trained_model_with_categorical_feature(objective: str) -> None:
    X = frame(3000, 0)
    s = X["shop"].cat.codes.to_numpy()
    lin = np.nan_to_num(X["a"].to_numpy()) + (s % 3) * 0.7
    y = {"regression": lin, "binary": (lin > 0.5).astype(float),
         "multiclass": np.digitize(lin, [0.0, 1.0]).astype(float),
         "poisson": np.random.default_rng(1).poisson(np.exp(lin / 2)).astype(float)}[objective]
    params = {"objective": objective, "n_estimators": 30, "num_leaves": 15, "n_jobs": 1,
              "max_cat_to_onehot": 1}
    if objective == "multiclass":
        params["num_class"] = 3
    b = sapwood.train(params, sapwood.Dataset(X, label=y))
    assert any(np.any(t.split_type == 2) for t in b.trees())  # categorical splits exist
    Xt = frame(500, 2)
    F = b.feature_matrix(Xt)
    want = b.predict(Xt)
    close(onnx_predict(b.to_onnx(), F), want)
    close(xgb_predict(b, F), want)
    with pytest.raises(sapwood.ParameterError, match="'shop'"):
        b.to_onnx(opset=3)


def test_imported_lightgbm_model() -> None:
    lgb = pytest.importorskip("lightgbm")
    X = frame(3000, 3)
    y = np.nan_to_num(X["a"].to_numpy()) * 2 + (X["shop"].cat.codes.to_numpy() % 4)
    model = lgb.train({"objective": "regression", "num_leaves": 15, "verbose": -1,
                       "min_data_per_group": 5, "cat_smooth": 1, "seed": 0},
                      lgb.Dataset(X, label=y), num_boost_round=20)
    b = sapwood.import_model(model.model_to_string().encode())
    Xt = frame(500, 4)
    F = b.feature_matrix(Xt)
    want = model.predict(Xt)
    close(b.predict(Xt), want)
    close(onnx_predict(b.to_onnx(), F), want)
    close(xgb_predict(b, F), want)


def test_imported_lightgbm_zero_as_missing() -> None:
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2000, 3))
    X[rng.random(X.shape) < 0.2] = 0.0
    y = X[:, 0] + (X[:, 1] == 0) * 2.0
    model = lgb.train({"objective": "regression", "num_leaves": 15, "verbose": -1,
                       "zero_as_missing": True, "seed": 0},
                      lgb.Dataset(X, label=y), num_boost_round=10)
    b = sapwood.import_model(model.model_to_string().encode())
    assert any(np.any(t.split_type == 1) for t in b.trees())
    Xt = rng.normal(size=(400, 3)).astype(np.float32)
    Xt[rng.random(Xt.shape) < 0.2] = 0.0
    Xt[rng.random(Xt.shape) < 0.1] = np.nan
    want = b.predict(Xt)
    close(onnx_predict(b.to_onnx(), Xt), want)
    close(xgb_predict(b, Xt), want)


def test_imported_xgboost_multiclass_round_trip() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(2000, 4)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.digitize(np.nan_to_num(X[:, 0]), [-0.5, 0.5])
    src = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 4},
                    xgb.DMatrix(X, label=y, missing=np.nan), 15)
    b = sapwood.import_model(bytes(src.save_raw("json")))
    want = src.predict(xgb.DMatrix(X, missing=np.nan))
    close(b.predict(X), want)
    close(onnx_predict(b.to_onnx(), X), want)
    close(xgb_predict(b, X), want)


def test_iteration_range_and_best_iteration() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    b = sapwood.train({"objective": "regression", "n_estimators": 10, "n_jobs": 1},
                      sapwood.Dataset(X, label=X[:, 0] * 2))
    close(onnx_predict(b.to_onnx(iteration_range=(2, 5)), X),
          b.predict(X, iteration_range=(2, 5)))
    close(xgb_predict(sapwood.import_model(
        b.to_xgboost_json(iteration_range=(0, 4)).encode()), X),
        b.predict(X, iteration_range=(0, 4)))


# ----------------------------------------------------------------------------- errors, CLI
def test_bad_options_raise_parameter_errors() -> None:
    mb = ModelBuilder("regression", feature_names=["x"])
    mb.add_tree(zero_as_missing_tree(0.5, 1))
    b = Booster.from_builder(mb)
    with pytest.raises(sapwood.ParameterError, match="output"):
        b.to_onnx(output="contrib")  # type: ignore[arg-type]
    with pytest.raises(sapwood.ParameterError, match="opset"):
        b.to_onnx(opset=4)
    from sapwood.model.export import export_bytes

    with pytest.raises(sapwood.ParameterError, match="format"):
        export_bytes(b, "pmml")
    with pytest.raises(sapwood.NotFittedError):
        Booster().to_onnx()


def test_cli_export_writes_files_and_refuses_bad_input(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    b = sapwood.train({"objective": "binary", "n_estimators": 5, "n_jobs": 1},
                      sapwood.Dataset(X, label=(X[:, 0] > 0).astype(float)))
    model = tmp_path / "m.sapwood"
    b.save(model)
    out = tmp_path / "m.onnx"
    assert cli_main(["export", str(model), "--format", "onnx", "-o", str(out)]) == 0
    close(onnx_predict(onnx.load(str(out)), X), b.predict(X))
    xj = tmp_path / "m.json"
    assert cli_main(["export", str(model), "--format", "xgboost-json", "-o", str(xj)]) == 0
    assert np.allclose(xgb.Booster(model_file=str(xj)).predict(
        xgb.DMatrix(X, feature_names=b.feature_names)), b.predict(X), rtol=RTOL, atol=ATOL)
    # a model that is not one: exit 2, one line, no output file, no temporary left
    bad = tmp_path / "bad.sapwood"
    bad.write_bytes(b"not a model")
    target = tmp_path / "never.onnx"
    assert cli_main(["export", str(bad), "--format", "onnx", "-o", str(target)]) == 2
    assert not target.exists()
    assert cli_main(["export", str(model), "--format", "xgboost-json", "--opset", "5",
                     "-o", str(target)]) == 2
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == ["bad.sapwood", "m.json", "m.onnx", "m.sapwood"]
    err = capsys.readouterr().err
    assert "Traceback" not in err
