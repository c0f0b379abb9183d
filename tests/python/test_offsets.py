"""Per-row offsets (init_score) and continued training (init_model)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood import metrics


def exposure_data(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    expo = rng.uniform(0.05, 5, n)
    y = rng.poisson(np.exp(0.6 * X[:, 0] - 0.3 * X[:, 1] ** 2) * expo).astype(np.float64)
    return X, y, np.log(expo)


def assert_same_trees(a: sapwood.Booster, b: sapwood.Booster) -> None:
    assert a.num_trees == b.num_trees
    np.testing.assert_array_equal(a.init_score, b.init_score)
    for ta, tb in zip(a.trees(), b.trees(), strict=True):
        assert set(ta) == set(tb)
        for f in ta:
            np.testing.assert_array_equal(ta[f], tb[f], err_msg=f)


# ---------------------------------------------------------------------------- init_score
def test_a_constant_offset_equals_the_models_own_constant() -> None:
    X, y, _ = exposure_data(3000)
    plain = sapwood.train({"objective": "poisson", "n_estimators": 10}, sapwood.Dataset(X, y))
    c = plain.init_score[0]
    off = sapwood.train({"objective": "poisson", "n_estimators": 10},
                        sapwood.Dataset(X, y, init_score=np.full(y.size, c)))
    assert off.init_score[0] == 0.0 and off.trained_with_init_score
    assert not plain.trained_with_init_score
    for ta, tb in zip(plain.trees(), off.trees(), strict=True):
        np.testing.assert_array_equal(ta.value, tb.value)
    # the same margins, summed in another order
    np.testing.assert_allclose(off.predict(X, init_score=np.full(y.size, c)), plain.predict(X),
                               rtol=1e-13)


def test_exposure_offset_matches_lightgbm() -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y, off = exposure_data(8000, seed=1)
    Xt, yt, offt = exposure_data(8000, seed=2)
    b = sapwood.train({"objective": "poisson", "n_estimators": 80, "n_jobs": 1},
                      sapwood.Dataset(X, y, init_score=off))
    m = lgb.train({"objective": "poisson", "verbose": -1, "num_threads": 1},
                  lgb.Dataset(X, y, init_score=off), 80)
    ours = metrics.poisson_deviance(yt, b.predict(Xt, init_score=offt))
    theirs = metrics.poisson_deviance(yt, np.exp(m.predict(Xt, raw_score=True) + offt))
    no_offset = sapwood.train({"objective": "poisson", "n_estimators": 80, "n_jobs": 1},
                              sapwood.Dataset(X, y))
    ignored = metrics.poisson_deviance(yt, no_offset.predict(Xt))
    assert ours <= theirs * 1.03, (ours, theirs)
    assert ours < 0.8 * ignored


def test_predict_with_offsets_outputs_and_warning(tmp_path: Path) -> None:
    X, y, off = exposure_data(2000)
    b = sapwood.train({"objective": "poisson", "n_estimators": 8},
                      sapwood.Dataset(X, y, init_score=off))
    raw = b.predict(X, output="raw", init_score=off)
    with pytest.warns(UserWarning, match="init_score"):
        bare = b.predict(X, output="raw")
    np.testing.assert_allclose(raw, bare + off, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.predict(X, init_score=off), np.exp(raw), rtol=1e-15)
    contrib = b.predict(X, output="contrib", init_score=off)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-9, atol=1e-9)
    with pytest.raises(sapwood.ParameterError, match="leaf"):
        b.predict(X, output="leaf", init_score=off)
    with pytest.raises(sapwood.DataError, match="shape"):
        b.predict(X, init_score=off[:-1])
    bad = off.copy()
    bad[7] = np.nan
    with pytest.raises(sapwood.DataError, match="row 7"):
        b.predict(X, init_score=bad)
    b.save(tmp_path / "m.sapwood")
    back = sapwood.load(tmp_path / "m.sapwood")
    assert back.trained_with_init_score
    np.testing.assert_array_equal(back.predict(X, init_score=off), b.predict(X, init_score=off))
    # a model trained without offsets takes them too (a margin shift), silently
    plain = sapwood.train({"objective": "poisson", "n_estimators": 3}, sapwood.Dataset(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(plain.predict(X, output="raw", init_score=off),
                                   plain.predict(X, output="raw") + off)


def test_multiclass_offsets_and_shape_errors() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 3))
    y = (X[:, 0] > 0).astype(float) + (X[:, 1] > 0.5)
    off = rng.normal(size=(1500, 3))
    b = sapwood.train({"objective": "multiclass", "num_class": 3, "n_estimators": 5},
                      sapwood.Dataset(X, y, init_score=off))
    np.testing.assert_array_equal(b.init_score, np.zeros(3))
    p = b.predict(X, init_score=off)
    raw = b.predict(X, output="raw", init_score=off)
    z = np.exp(raw - raw.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, z / z.sum(axis=1, keepdims=True), rtol=1e-12)
    with pytest.raises(sapwood.DataError, match="one column per model output"):
        sapwood.train({"objective": "multiclass", "num_class": 3, "n_estimators": 2},
                      sapwood.Dataset(X, y, init_score=off[:, 0]))
    with pytest.raises(sapwood.DataError, match="init_score has 10 rows"):
        sapwood.Dataset(X, y, init_score=off[:10, 0])
    bad = off[:, 0].copy()
    bad[4] = np.inf
    with pytest.raises(sapwood.DataError, match="row 4"):
        sapwood.Dataset(X, y, init_score=bad)


def test_init_score_column_from_tables_and_parquet(tmp_path: Path) -> None:
    X, y, off = exposure_data(1200)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["y"], df["log_exposure"] = y, off
    p = {"objective": "poisson", "n_estimators": 5, "n_jobs": 1}
    ref = sapwood.train(p, sapwood.Dataset(X, y, init_score=off))
    from_frame = sapwood.train(p, sapwood.Dataset(df, "y", init_score="log_exposure"))
    assert from_frame.feature_names == ["a", "b", "c", "d"]
    df.to_parquet(tmp_path / "d.parquet")
    from_file = sapwood.train(p, sapwood.Dataset(tmp_path / "d.parquet", "y",
                                                 init_score="log_exposure"))
    for b in (from_frame, from_file):
        np.testing.assert_array_equal(b.predict(X, init_score=off), ref.predict(X, init_score=off))
    with pytest.raises(sapwood.DataError, match="init_score column 'nope'"):
        sapwood.Dataset(df, "y", init_score="nope")


def test_offsets_in_validation_cv_and_estimators() -> None:
    X, y, off = exposure_data(3000)
    tr, va = slice(0, 2000), slice(2000, 3000)
    ds_va = sapwood.Dataset(X[va], y[va], init_score=off[va])
    b = sapwood.train({"objective": "poisson", "n_estimators": 6},
                      sapwood.Dataset(X[tr], y[tr], init_score=off[tr]), valid_sets=[ds_va])
    ev = b.evals_result["valid_0"]["poisson_deviance"][-1]
    assert ev == pytest.approx(metrics.poisson_deviance(
        y[va], b.predict(X[va], init_score=off[va])))
    res = sapwood.cv({"objective": "poisson", "n_estimators": 4},
                     sapwood.Dataset(X, y, init_score=off), folds=3)
    for m, (_, fold_va) in zip(res.models, res.folds, strict=True):
        assert m.trained_with_init_score
        want = metrics.poisson_deviance(y[fold_va], m.predict(X[fold_va],
                                                              init_score=off[fold_va]))
        assert m.evals_result["valid"]["poisson_deviance"][-1] == pytest.approx(want)
    from sapwood import GBMClassifier, GBMRegressor

    reg = GBMRegressor(objective="poisson", n_estimators=6).fit(X, y, init_score=off)
    np.testing.assert_array_equal(
        reg.predict(X, init_score=off),
        sapwood.train(reg.booster_.params, sapwood.Dataset(X, y, init_score=off))
        .predict(X, init_score=off))
    yb = (y > np.median(y)).astype(int)
    clf = GBMClassifier(n_estimators=4).fit(X, yb, init_score=off)
    assert clf.booster_.trained_with_init_score
    assert clf.predict_proba(X, init_score=off).shape == (3000, 2)


# ---------------------------------------------------------------------------- init_model
CONTINUE = [
    {"objective": "regression", "subsample": 0.7, "colsample_bytree": 0.6},
    {"objective": "binary"},
    {"objective": "multiclass", "num_class": 3, "subsample": 0.8},
    {"objective": "quantile", "alpha": 0.7, "subsample": 0.8},
    {"objective": "poisson", "with_offset": True},
]


@pytest.mark.parametrize("params", CONTINUE, ids=[p["objective"] for p in CONTINUE])
def test_continued_training_equals_training_at_once(params: dict[str, object],
                                                    tmp_path: Path) -> None:
    X, y, off = exposure_data(4000, seed=4)
    obj = params["objective"]
    if obj == "binary":
        y = (y > 1).astype(np.float64)
    elif obj == "multiclass":
        y = np.minimum(y, 2)
    p = {k: v for k, v in params.items() if k != "with_offset"} | {"n_jobs": 2}
    init = off if params.get("with_offset") else None

    def data() -> sapwood.Dataset:
        return sapwood.Dataset(X, y, init_score=init)

    full = sapwood.train({**p, "n_estimators": 25}, data())
    first = sapwood.train({**p, "n_estimators": 10}, data())
    first.save(tmp_path / "first.sapwood")
    cont = sapwood.train({**p, "n_estimators": 15}, data(), init_model=first)
    from_file = sapwood.train({**p, "n_estimators": 15}, data(),
                              init_model=tmp_path / "first.sapwood")
    for c in (cont, from_file):
        assert_same_trees(full, c)
        np.testing.assert_array_equal(full.predict(X, init_score=init),
                                      c.predict(X, init_score=init))
        # and the model files are byte-identical once the run's metadata agrees
        c.params["n_estimators"] = 25
        c.provenance = dict(full.provenance)
        assert c.to_bytes() == full.to_bytes()


def test_continue_with_early_stopping_counts_all_rounds() -> None:
    X, y, _ = exposure_data(3000, seed=5)
    y = np.log1p(y)
    tr, va = sapwood.Dataset(X[:2000], y[:2000]), sapwood.Dataset(X[2000:], y[2000:])
    first = sapwood.train({"n_estimators": 5}, tr)
    b = sapwood.train({"n_estimators": 500, "learning_rate": 0.3}, tr, valid_sets=[va],
                      callbacks=[sapwood.EarlyStopping(5)], init_model=first)
    assert b.best_iteration is not None and 5 < b.best_iteration < b.num_rounds
    rmse = metrics.rmse(y[2000:], b.predict(X[2000:]))
    assert rmse == pytest.approx(min(b.evals_result["valid_0"]["rmse"]))


def test_continue_an_imported_lightgbm_model() -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y, _ = exposure_data(3000, seed=6)
    y = np.log1p(y)
    m = lgb.train({"objective": "regression", "verbose": -1, "max_bin": 63}, lgb.Dataset(X, y), 5)
    imported = sapwood.import_model(m.model_to_string().encode())
    ds = sapwood.Dataset(X, y, feature_names=imported.feature_names)  # names must match
    b = sapwood.train({"n_estimators": 20}, ds, init_model=imported)
    assert b.num_rounds == 25
    np.testing.assert_allclose(b.predict(X, iteration_range=(0, 5)), m.predict(X),
                               rtol=1e-6, atol=1e-6)
    assert metrics.rmse(y, b.predict(X)) < 0.9 * metrics.rmse(y, m.predict(X))


def test_bad_init_models(tmp_path: Path) -> None:
    X, y, _ = exposure_data(500)
    b = sapwood.train({"objective": "poisson", "n_estimators": 2}, sapwood.Dataset(X, y))
    with pytest.raises(sapwood.ParameterError, match="objective 'poisson'"):
        sapwood.train({"n_estimators": 2}, sapwood.Dataset(X, y), init_model=b)
    with pytest.raises(sapwood.DataError, match="features"):
        sapwood.train({"objective": "poisson", "n_estimators": 2},
                      sapwood.Dataset(X[:, :3], y), init_model=b)
    with pytest.raises(sapwood.ParameterError, match="init_model"):
        sapwood.train({"n_estimators": 2}, sapwood.Dataset(X, y), init_model=42)  # type: ignore[arg-type]
    with pytest.raises((sapwood.SapwoodError, OSError)):
        sapwood.train({"n_estimators": 2}, sapwood.Dataset(X, y),
                      init_model=tmp_path / "missing.sapwood")
