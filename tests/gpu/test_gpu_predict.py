"""GPU predictor vs the CPU predictor (skipped without a CUDA build and a device).

Run on a GPU machine: python -m pytest -q tests/gpu
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import sapwood
from sapwood.model.gpu import cuda_available

pytestmark = pytest.mark.skipif(not cuda_available(), reason="no CUDA build or no GPU here")

TOL = 1e-6


def _data(n: int, f: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    X[rng.random((n, f)) < 0.05] = np.nan
    X[rng.random((n, f)) < 0.01] = np.inf
    X[rng.random((n, f)) < 0.01] = -np.inf
    return X


def _train(objective: str, n_estimators: int = 40) -> sapwood.Booster:
    X = _data(4000, 12, 1)
    x0 = np.nan_to_num(X[:, 0], posinf=3, neginf=-3)
    x1 = np.nan_to_num(X[:, 1], posinf=3, neginf=-3)
    params: dict[str, object] = {"objective": objective, "n_estimators": n_estimators,
                                 "num_leaves": 31, "learning_rate": 0.1}
    if objective == "multiclass":
        y = (x0 > 0).astype(float) + (x1 > 0.3)
        params["num_class"] = 3
    elif objective == "binary":
        y = (x0 + x1 > 0).astype(float)
    elif objective == "poisson":  # log link: the device applies exp
        y = np.round(np.exp(0.5 * x0 + 0.3 * np.sin(x1)))
    elif objective == "multi_quantile":  # the device sorts each row's levels (transform 4)
        y = x0 * 2 + np.sin(x1) + np.random.default_rng(3).standard_normal(x0.size)
        params["objective"], params["alpha"] = "quantile", [0.1, 0.3, 0.35, 0.4, 0.9]
    else:
        y = x0 * 2 + np.sin(x1)
    return sapwood.train(params, sapwood.Dataset(X, y))


@pytest.fixture(scope="module", params=["regression", "binary", "multiclass", "poisson",
                                        "multi_quantile"])
def booster(request: pytest.FixtureRequest) -> sapwood.Booster:
    return _train(request.param)


@pytest.mark.parametrize("output", ["value", "raw"])
@pytest.mark.parametrize("layout", ["C32", "F32", "C64", "F64"])
def test_numpy_parity(booster: sapwood.Booster, output: str, layout: str) -> None:
    X = _data(5000, 12, 2)
    X = X.astype(np.float64) if layout.endswith("64") else X
    X = np.asfortranarray(X) if layout.startswith("F") else X
    cpu = booster.predict(X, output=output)
    gpu = booster.predict(X, output=output, device="cuda")
    assert isinstance(gpu, np.ndarray) and gpu.shape == cpu.shape
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=TOL)
    if output == "raw":  # same comparisons, same summation order: bit-identical margins
        np.testing.assert_array_equal(gpu, cpu)


def test_many_chunks_iteration_range_and_edge_sizes(booster: sapwood.Booster) -> None:
    X = _data(600_000, 12, 3)  # more than two pinned chunks
    np.testing.assert_allclose(booster.predict(X, device="cuda"), booster.predict(X), atol=TOL)
    r = (3, 17)
    np.testing.assert_allclose(booster.predict(X[:999], iteration_range=r, device="cuda"),
                               booster.predict(X[:999], iteration_range=r), atol=TOL)
    for n in (0, 1, 127, 129):
        np.testing.assert_allclose(booster.predict(X[:n], device="cuda"),
                                   booster.predict(X[:n]), atol=TOL)


def test_threads_share_one_device_forest(booster: sapwood.Booster) -> None:
    X = _data(20_000, 12, 4)
    want = booster.predict(X)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                np.testing.assert_allclose(booster.predict(X, device="cuda"), want, atol=TOL)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[0]


def test_device_input_zero_copy_output_on_device(booster: sapwood.Booster) -> None:
    cupy = pytest.importorskip("cupy")
    X = _data(10_000, 12, 5)
    for arr in (cupy.asarray(X), cupy.asfortranarray(cupy.asarray(X)),
                cupy.asarray(X.astype(np.float64))):
        out = booster.predict(arr, device="cuda")
        assert isinstance(out, cupy.ndarray)
        np.testing.assert_allclose(cupy.asnumpy(out), booster.predict(X), atol=TOL)


def test_device_input_without_cupy_output(booster: sapwood.Booster) -> None:
    """Any __cuda_array_interface__ producer works; the result exposes the interface too."""
    cupy = pytest.importorskip("cupy")
    from sapwood import _core
    from sapwood.model.gpu import _cuda_forest

    X = _data(3000, 12, 6)
    d = cupy.asarray(X)
    cai = d.__cuda_array_interface__
    b, e = booster._tree_range(None)
    out = _cuda_forest(booster).predict_device(
        cai["data"][0], cai["typestr"], list(cai["shape"]), cai.get("strides"), 0, b, e,
        booster.init_score, 0)
    assert isinstance(out, _core.DeviceArray)
    assert out.__cuda_array_interface__["typestr"] == "<f8"
    np.testing.assert_allclose(out.get().reshape(booster.predict(X, "raw").shape),
                               booster.predict(X, "raw"), atol=TOL)


def test_imported_lightgbm_categorical_parity() -> None:
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 5))
    X[:, 0] = rng.integers(0, 40, 3000)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = ((X[:, 0] % 3 == 0) ^ (np.nan_to_num(X[:, 1]) > 0)).astype(float)
    m = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15,
                   "zero_as_missing": False},
                  lgb.Dataset(X, y, categorical_feature=[0]), 30)
    b = sapwood.import_model(m.model_to_string())
    Xt = rng.normal(size=(5000, 5))
    Xt[:, 0] = rng.integers(-2, 50, 5000)
    Xt[rng.random(Xt.shape) < 0.05] = np.nan
    np.testing.assert_allclose(b.predict(Xt, device="cuda"), b.predict(Xt), atol=TOL)


def test_bad_inputs_raise_sapwood_errors(booster: sapwood.Booster) -> None:
    with pytest.raises(sapwood.DataError):
        booster.predict(np.zeros((3, 5), np.float32), device="cuda")
    with pytest.raises(sapwood.ParameterError):
        booster.predict(np.zeros((3, 12), np.float32), output="leaf", device="cuda")
    with pytest.raises(sapwood.ParameterError):
        booster.predict(np.zeros((3, 12), np.float32), device="gpu")


def test_score_command_on_cuda(tmp_path: object, booster: sapwood.Booster) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from pathlib import Path

    from sapwood.scoring.api import score

    tmp = Path(str(tmp_path))
    X = _data(50_000, 12, 8)
    pq.write_table(pa.table({f"f{i}": X[:, i] for i in range(12)}), tmp / "in.parquet")
    score(booster, tmp / "in.parquet", tmp / "out.parquet", device="cuda", progress=False,
          batch_rows=20_000)
    got = pq.read_table(tmp / "out.parquet")
    cols = [c for c in got.column_names if c.startswith("prediction")]
    res = np.column_stack([got[c].to_numpy() for c in cols])
    np.testing.assert_allclose(res.reshape(booster.predict(X).shape), booster.predict(X),
                               atol=TOL)


def test_special_splits_decide_as_on_the_cpu() -> None:
    # The CPU and CUDA walks share one split decision (cpp/src/predict/decision.hpp): on
    # zero-as-missing and categorical splits, with rows on the edges (NaN, +-inf, +-0,
    # +-1e-36 inside the zero band, negative categories, categories past the bitsets), the
    # raw margins are the same, bit for bit.
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
    from test_predict import make_booster, random_rows, random_tree

    rng = np.random.default_rng(13)
    trees = [random_tree(rng, 6, 30, True) for _ in range(40)]
    b = make_booster(trees, 6)
    X = random_rows(rng, 5000, 6)
    edges = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 2e-35,
                      -1.0, -0.5, 31.9, 32.0, 63.0, 64.0, 1e9], dtype=np.float32)
    on = rng.random(X.shape) < 0.3
    X[on] = rng.choice(edges, size=int(on.sum()))
    assert b._get_forest().kernel == "float-special"
    np.testing.assert_array_equal(b.predict(X, output="raw", device="cuda"),
                                  b.predict(X, output="raw"))


def test_multi_quantile_never_crosses_on_the_device() -> None:
    b = _train("multi_quantile")
    X = _data(5000, 12, 4) * np.float32(1e6)
    gpu = b.predict(X, device="cuda")
    assert (np.diff(gpu, axis=1) >= 0).all()
    np.testing.assert_allclose(gpu, np.sort(b.predict(X, output="raw"), axis=1), rtol=TOL)
