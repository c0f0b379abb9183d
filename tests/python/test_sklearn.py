"""The scikit-learn estimators: the library's own estimator checks plus behaviour tests."""

from __future__ import annotations

import importlib
import pickle
import warnings

import numpy as np
import pytest
import sapwood
from conftest import make_classification, make_regression
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

# Small data in the checks: allow tiny leaves so that the models can fit it.
SMALL = {"n_estimators": 20, "min_child_samples": 1, "n_jobs": 1}

EXPECTED_FAILURES = {
    # Weights scale gradients, but min_child_samples counts rows, as in LightGBM and XGBoost:
    # a row of weight 2 is not the same model as the row repeated.
    "check_sample_weight_equivalence_on_dense_data": "min_child_samples counts rows, not weight",
}


def _expected(est: object) -> dict[str, str]:
    return EXPECTED_FAILURES


@parametrize_with_checks(
    [sapwood.GBMRegressor(**SMALL), sapwood.GBMClassifier(**SMALL)],
    expected_failed_checks=_expected,
)
def test_sklearn_estimator_checks(estimator: object, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def test_classifier_binary_and_multiclass_labels() -> None:
    X, y = make_classification(3000, classes=3, seed=0, signal=3.0)
    labels = np.array(["cat", "dog", "emu"])[y.astype(int)]
    clf = sapwood.GBMClassifier(n_estimators=30, random_state=0, n_jobs=2).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    proba = clf.predict_proba(X)
    assert proba.shape == (3000, 3)
    assert (clf.predict(X) == labels).mean() > 0.8
    assert clf.feature_importances_.shape == (8,)
    np.testing.assert_allclose(clf.feature_importances_.sum(), 1.0)
    assert clf.n_features_in_ == 8
    yb = (y == 1)
    clf = sapwood.GBMClassifier(n_estimators=30).fit(X, yb)
    p = clf.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), p[:, 1] > 0.5)


def test_eval_set_and_early_stopping() -> None:
    X, y = make_classification(4000, seed=1)
    clf = sapwood.GBMClassifier(n_estimators=400, learning_rate=0.3, early_stopping_rounds=5)
    clf.fit(X[:3000], y[:3000], eval_set=[(X[3000:], y[3000:])])
    assert clf.best_iteration_ is not None and clf.n_estimators_ < 400
    assert "logloss" in clf.evals_result_["valid_0"]


def test_pickle_and_clone_roundtrip() -> None:
    X, y = make_regression(2000, seed=2)
    reg = sapwood.GBMRegressor(n_estimators=20, num_leaves=15).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    c = clone(reg)
    assert c.get_params() == reg.get_params() and not hasattr(c, "booster_")


def test_feature_names_in_from_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    X, y = make_regression(500, seed=3)
    df = pd.DataFrame(X, columns=list("abcdefgh"))
    reg = sapwood.GBMRegressor(n_estimators=5).fit(df, y)
    assert list(reg.feature_names_in_) == list("abcdefgh")
    assert reg.booster_.feature_names == list("abcdefgh")


def _frame_with_categories(n: int, seed: int) -> tuple[object, np.ndarray]:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    city = rng.choice(["oslo", "lima", "rome", "pune", "kiev"], size=n)
    effect = {"oslo": -1.0, "lima": 0.5, "rome": 1.5, "pune": -0.5, "kiev": 0.0}
    x = rng.normal(size=n)
    level = pd.Categorical(rng.choice(["lo", "mid", "hi"], size=n), categories=["lo", "mid", "hi"])
    logit = np.array([effect[c] for c in city]) + x + (np.asarray(level) == "hi") * 1.0
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    city = city.astype(object)
    city[rng.random(n) < 0.05] = None
    return pd.DataFrame({"x": x, "city": city, "level": level}), y


def test_dataframe_with_categorical_columns_trains_like_the_dataset_api() -> None:
    """A frame with string and category columns is trained on natively (as train + Dataset
    with categorical_features="auto" would), not refused by a float conversion."""
    X, y = _frame_with_categories(4000, 0)
    params = {"n_estimators": 20, "num_leaves": 8, "random_state": 0, "n_jobs": 1}
    clf = sapwood.GBMClassifier(**params).fit(X, y)
    assert clf.booster_.categorical_features == ["city", "level"]
    assert clf.n_features_in_ == 3 and list(clf.feature_names_in_) == ["x", "city", "level"]
    ref = sapwood.train({**params, "objective": "binary"}, sapwood.Dataset(X, y))
    np.testing.assert_array_equal(clf.predict_proba(X)[:, 1], ref.predict(X))
    # Unseen and missing categories at predict time take the learned other/missing branch.
    Xn = X.head(5).copy()
    Xn.loc[:, "city"] = ["paris", None, "oslo", "oslo", "lima"]
    np.testing.assert_array_equal(clf.predict_proba(Xn)[:, 1], ref.predict(Xn))
    # Same predictions from polars and Arrow views of the table, and after pickling.
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    p = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.predict_proba(pl.from_pandas(X)), p)
    np.testing.assert_array_equal(clf.predict_proba(pa.Table.from_pandas(X)), p)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), p)
    # A missing column is a clear error naming it.
    with pytest.raises(ValueError, match="city"):
        clf.predict(X.drop(columns=["city"]))


def test_categorical_features_param_and_eval_set() -> None:
    X, y = _frame_with_categories(3000, 1)
    Xtr, Xva, ytr, yva = X.iloc[:2000], X.iloc[2000:], y[:2000], y[2000:]
    reg = sapwood.GBMRegressor(n_estimators=200, early_stopping_rounds=5, n_jobs=1,
                               categorical_features=["level"])
    reg.fit(Xtr[["x", "level"]], ytr.astype(float), eval_set=[(Xva[["x", "level"]], yva)])
    assert reg.booster_.categorical_features == ["level"]
    assert reg.best_iteration_ is not None and reg.best_iteration_ < 200
    # categorical_features=None keeps scikit-learn's numeric conversion: strings are refused.
    with pytest.raises(ValueError):
        sapwood.GBMClassifier(n_estimators=5, categorical_features=None).fit(X, y)


# ---------------------------------------------------------------------------------------------
# Issue 13, defect 13: sapwood's own errors (naming the row or column), columns matched by name.

# sapwood.train is also the train function: reach the module by its full name
sksw = importlib.import_module("sapwood.train.sklearn")
NAMES = list("abcdefgh")


@pytest.mark.parametrize("make", [sapwood.GBMRegressor, sapwood.GBMClassifier])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_label_is_a_data_error_naming_the_row(make: type, bad: float) -> None:
    X, y = make_classification(200, seed=4)
    y = y.copy()
    y[[17, 40]] = bad
    with pytest.raises(sapwood.DataError, match=r"row 17 .*\(2 rows in all\)") as e:
        make(n_estimators=3).fit(X, y)
    assert isinstance(e.value, ValueError)
    assert ("NaN" if bad != np.inf else "infinity") in str(e.value)


def test_missing_label_in_a_series_object_labels_and_eval_set() -> None:
    pd = pytest.importorskip("pandas")
    X, y = make_classification(300, seed=5)
    labels = np.array(["no", "yes"], dtype=object)[y.astype(int)]
    labels[9] = None
    with pytest.raises(sapwood.DataError, match="row 9"):
        sapwood.GBMClassifier(n_estimators=3).fit(X, labels)
    ys = pd.Series(y, index=np.arange(300) + 1000)
    ys.iloc[3] = np.nan  # the row is the position, not the index label
    with pytest.raises(sapwood.DataError, match="row 3"):
        sapwood.GBMRegressor(n_estimators=3).fit(pd.DataFrame(X, columns=NAMES), ys)
    # A table-input frame (categorical column) goes through another label check.
    Xc, yc = _frame_with_categories(300, 6)
    yc = yc.astype(float)
    yc[5] = np.nan
    with pytest.raises(sapwood.DataError, match="row 5"):
        sapwood.GBMClassifier(n_estimators=3).fit(Xc, yc)
    yv = y[:100].copy()
    yv[42] = np.nan
    with pytest.raises(sapwood.DataError, match=r"eval_set\[0\] y .*row 42"):
        sapwood.GBMRegressor(n_estimators=3).fit(X, y, eval_set=[(X[:100], yv)])


@pytest.fixture(scope="module")
def named_models() -> dict[str, object]:
    """Estimators fitted on a float frame (numeric path), on a frame with categorical
    columns (table path) and on a polars frame (table path, no categoricals)."""
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    X, y = make_classification(1500, seed=7, nan_share=0.05)
    df = pd.DataFrame(X, columns=NAMES)
    small = {"n_estimators": 15, "num_leaves": 15, "n_jobs": 1}
    Xc, yc = _frame_with_categories(1500, 8)
    return {
        "X": X, "y": y, "df": df, "cat_df": Xc,
        "numeric": sapwood.GBMClassifier(**small).fit(df, y),
        "table": sapwood.GBMClassifier(**small).fit(Xc, yc),
        "polars": sapwood.GBMRegressor(**small).fit(pl.from_pandas(df), y),
        "plain": sapwood.GBMClassifier(**small).fit(X, y),
        "multi": sapwood.GBMClassifier(**small).fit(
            X, (np.digitize(X[:, 0], [-0.5, 0.5])).astype(int)),
    }


def _views(df: object) -> dict[str, object]:
    """The same table as pandas, polars and Arrow."""
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    return {"pandas": df, "polars": pl.from_pandas(df),  # type: ignore[arg-type]
            "arrow": pa.Table.from_pandas(df, preserve_index=False)}  # type: ignore[arg-type]


def _predictions(est: object, X: object) -> list[np.ndarray]:
    out = [est.predict(X)]  # type: ignore[attr-defined]
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X))
    return out


def _assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v, strict=True)
        assert u.tobytes() == v.tobytes()  # bit for bit, NaN and -0.0 included


@pytest.mark.parametrize("model", ["numeric", "table", "polars"])
@pytest.mark.parametrize("fast", [True, False])
def test_missing_column_is_a_schema_error_naming_it(named_models: dict[str, object],
                                                    model: str, fast: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sksw, "_FAST_PATH", fast)
    est = named_models[model]
    df = named_models["cat_df" if model == "table" else "df"]
    gone = "city" if model == "table" else "c"
    for kind, X in _views(df.drop(columns=[gone])).items():  # type: ignore[attr-defined]
        if model == "numeric" and kind != "pandas":
            continue  # fitted on pandas floats: scikit-learn reads only numeric frames
        with pytest.raises(sapwood.SchemaError,
                           match=f"yet now missing:\n- {gone}\n") as e:
            est.predict(X)  # type: ignore[attr-defined]
        assert isinstance(e.value, ValueError), kind


@pytest.mark.parametrize("model", ["numeric", "table", "polars"])
@pytest.mark.parametrize("fast", [True, False])
def test_reordered_and_extra_columns_are_matched_by_name(named_models: dict[str, object],
                                                         model: str, fast: bool,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """As Booster.predict does: a frame with the fitted columns in another order gives the
    same predictions as the ordered frame; extra columns are ignored (the Booster ignores
    them too); no warning either way."""
    monkeypatch.setattr(sksw, "_FAST_PATH", fast)
    est = named_models[model]
    df = named_models["cat_df" if model == "table" else "df"]
    cols = list(df.columns)  # type: ignore[attr-defined]
    reordered = df[cols[::-1]]  # type: ignore[index]
    extra = df.assign(label=1.0, zz=np.nan)[["zz"] + cols[1:] + ["label", cols[0]]]  # type: ignore[attr-defined]
    want = _predictions(est, df)
    booster = est.booster_.predict(df)  # type: ignore[attr-defined]
    for name, frame in (("reordered", reordered), ("extra", extra)):
        for kind, X in _views(frame).items():
            if model == "numeric" and kind != "pandas":
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = _predictions(est, X)
            _assert_same(got, want)
            np.testing.assert_array_equal(est.booster_.predict(X), booster,  # type: ignore[attr-defined]
                                          err_msg=f"{name} {kind}")


def test_feature_name_checks_that_still_hold(named_models: dict[str, object]) -> None:
    """scikit-learn's check_dataframe_column_names_consistency (not part of check_estimator)
    minus its reversed-order case, which sapwood accepts (matched by name)."""
    pd = pytest.importorskip("pandas")
    est, df = named_models["numeric"], named_models["df"]
    assert isinstance(est.feature_names_in_, np.ndarray)  # type: ignore[attr-defined]
    assert est.feature_names_in_.dtype == object  # type: ignore[attr-defined]
    unseen = pd.DataFrame(df, columns=[f"another_prefix_{i}" for i in range(8)])
    for method in (est.predict, est.predict_proba):  # type: ignore[attr-defined]
        with pytest.raises(sapwood.SchemaError, match=(
                "The feature names should match those that were passed during fit.\n"
                "Feature names unseen at fit time:\n- another_prefix_0\n- another_prefix_1\n")):
            method(unseen)
        with pytest.raises(sapwood.SchemaError, match=(
                "The feature names should match those that were passed during fit.\n"
                "Feature names seen at fit time, yet now missing:\n- d\n")):
            method(pd.DataFrame(df, columns=NAMES[:3]))
    # A frame whose names are not all strings is scikit-learn's business: its TypeError.
    with pytest.raises(TypeError):
        est.predict(pd.DataFrame(df.to_numpy(), columns=[*NAMES[:7], 7]))  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Issue 13, defect 14: the predict fast path gives the slow path's results, bit for bit, and
# takes nothing the slow path would refuse or warn about.


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts scikit-learn validate_data calls (none means the fast path ran)."""
    import sklearn.utils.validation as skv

    calls: list[int] = []
    real = skv.validate_data

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(skv, "validate_data", spy)
    return calls


def _fast_and_slow(est: object, X: object, calls: list[int],
                   monkeypatch: pytest.MonkeyPatch) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Predictions through the fast path (asserting that it ran) and through scikit-learn's
    checks."""
    calls.clear()
    fast = _predictions(est, X)
    assert calls == [], "the fast path did not run"
    monkeypatch.setattr(sksw, "_FAST_PATH", False)
    try:
        slow = _predictions(est, X)
    finally:
        monkeypatch.setattr(sksw, "_FAST_PATH", True)
    assert calls, "the slow path did not validate"
    return fast, slow


@pytest.fixture(scope="module")
def plain_regressor() -> object:
    X, y = make_regression(1500, seed=9)
    X[::13, 2] = np.nan
    return sapwood.GBMRegressor(n_estimators=15, num_leaves=15, n_jobs=1).fit(X, y)


@pytest.mark.parametrize("model", ["plain", "multi", "regressor"])
def test_fast_path_on_arrays_is_bit_identical(named_models: dict[str, object],
                                             plain_regressor: object, model: str,
                                             validations: list[int],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    est = plain_regressor if model == "regressor" else named_models[model]
    X = named_models["X"]
    assert isinstance(X, np.ndarray) and X.dtype == np.float64
    X32 = X.astype(np.float32)
    cases = {
        "float64": X, "float32": X32, "fortran64": np.asfortranarray(X),
        "fortran32": np.asfortranarray(X32), "one row": X[:1].copy(), "one row f32": X32[7:8],
        "every other row": X[::2], "transposed view": np.ascontiguousarray(X.T).T,
        "16 rows": X32[:16], "33 rows": X[:33],
    }
    for arr in cases.values():
        fast, slow = _fast_and_slow(est, arr, validations, monkeypatch)
        _assert_same(fast, slow)
    # The Booster on the same rows: what the estimator adds is presentation only.
    proba = est.booster_.predict(X32[:50])  # type: ignore[attr-defined]
    if model == "plain":
        np.testing.assert_array_equal(est.predict_proba(X32[:50])[:, 1], proba)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(est.predict(X32[:50]),  # type: ignore[attr-defined]
                                      est.classes_[np.argmax(est.predict_proba(X32[:50]), 1)])  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", ["numeric", "table", "polars"])
def test_fast_path_on_tables_is_bit_identical(named_models: dict[str, object], model: str,
                                             validations: list[int],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    est = named_models[model]
    df = named_models["cat_df" if model == "table" else "df"]
    frames = {"many rows": df, "one row": df.iloc[[3]]}  # type: ignore[attr-defined]
    # names held as objects rather than pandas' str dtype: the same names
    frames["object names"] = df.set_axis(  # type: ignore[attr-defined]
        pytest.importorskip("pandas").Index(list(df.columns), dtype=object), axis=1)  # type: ignore[attr-defined]
    if model != "table":
        frames["float32"] = df.astype(np.float32)  # type: ignore[attr-defined]
        frames["mixed"] = df.astype({"a": np.float32, "e": np.float32})  # type: ignore[attr-defined]
    for fname, frame in frames.items():
        for kind, X in _views(frame).items():
            if model == "numeric" and kind != "pandas":
                continue
            fast, slow = _fast_and_slow(est, X, validations, monkeypatch)
            _assert_same(fast, slow)
            assert fname and kind


_PANDAS_DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8",
                  "bool", "Float64", "Int64", "object"]


def _cast(pd: object, col: np.ndarray, dtype: str) -> object:
    nan = np.isnan(col)
    if dtype.startswith("float"):
        return col.astype(dtype)
    if dtype == "bool":
        return col > 0
    if dtype == "Float64":
        return pd.array(np.where(nan, None, col).tolist(), dtype="Float64")  # type: ignore[attr-defined]
    ints = np.round(np.where(np.isfinite(col), col, 0.0) * 3)
    if dtype == "Int64":
        return pd.array(np.where(nan, None, ints).tolist(), dtype="Int64")  # type: ignore[attr-defined]
    if dtype == "object":
        return col.astype(object)
    return ints.astype(dtype)


def _outcome(est: object, X: object) -> tuple[str, object]:
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = _predictions(est, X)
        return "ok", (out, [str(x.message) for x in w])
    except Exception as e:  # noqa: BLE001 - the two paths must fail alike
        return "error", (type(e), str(e))


@settings(deadline=None, derandomize=True, max_examples=40)
@given(dtypes=st.lists(st.sampled_from(_PANDAS_DTYPES), min_size=8, max_size=8),
       rows=st.integers(1, 40), start=st.integers(0, 1400), inf=st.booleans())
def test_fast_path_matches_slow_path_on_any_pandas_dtypes(named_models: dict[str, object],
                                                          dtypes: list[str], rows: int,
                                                          start: int, inf: bool) -> None:
    """The rows come from the training data (values on thresholds, NaN); whatever mix of
    dtypes, the fast path gives what scikit-learn's checks give, or fails as they fail."""
    pd = pytest.importorskip("pandas")
    est = named_models["numeric"]
    X = named_models["X"][start:start + rows].copy()  # type: ignore[index]
    if inf:
        X[0, 0] = -np.inf
    df = pd.DataFrame({n: _cast(pd, X[:, j], dt) for j, (n, dt) in enumerate(zip(NAMES, dtypes,
                                                                                strict=True))})
    fast = _outcome(est, df)
    sksw._FAST_PATH = False
    try:
        slow = _outcome(est, df)
    finally:
        sksw._FAST_PATH = True
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "error":
        assert fast[1] == slow[1]
    else:
        _assert_same(fast[1][0], slow[1][0])  # type: ignore[index]
        assert fast[1][1] == slow[1][1]  # type: ignore[index]


@settings(deadline=None, derandomize=True, max_examples=25)
@given(dtypes=st.lists(st.sampled_from(["Float32", "Float64", "Int32", "Int64", "Boolean"]),
                       min_size=8, max_size=8),
       rows=st.integers(1, 40), start=st.integers(0, 1400), nulls=st.booleans(),
       arrow=st.booleans())
def test_fast_path_matches_slow_path_on_polars_and_arrow(named_models: dict[str, object],
                                                         dtypes: list[str], rows: int,
                                                         start: int, nulls: bool,
                                                         arrow: bool) -> None:
    pl = pytest.importorskip("polars")
    est = named_models["polars"]
    X = named_models["X"][start:start + rows]  # type: ignore[index]
    cols = {}
    for j, (n, dt) in enumerate(zip(NAMES, dtypes, strict=True)):
        c = X[:, j]
        if dt.startswith("Int"):
            c = np.round(np.nan_to_num(c) * 3)
        elif dt == "Boolean":
            c = c > 0
        s = pl.Series(n, c).cast(getattr(pl, dt))
        if nulls:  # null (not NaN) in the first row
            s = s.scatter(0, None)
        cols[n] = s
    table = pl.DataFrame(cols)
    X_in = table.to_arrow() if arrow else table
    fast = _outcome(est, X_in)
    sksw._FAST_PATH = False
    try:
        slow = _outcome(est, X_in)
    finally:
        sksw._FAST_PATH = True
    assert fast[0] == slow[0] == "ok", (fast, slow)
    _assert_same(fast[1][0], slow[1][0])  # type: ignore[index]


def test_fast_path_is_not_taken_where_scikit_learn_objects(named_models: dict[str, object],
                                                          validations: list[int]) -> None:
    """Wrong width, no rows, infinity, 1-D, other dtypes and names fitted or not: the usual
    scikit-learn errors and warnings."""
    pd = pytest.importorskip("pandas")
    plain, numeric = named_models["plain"], named_models["numeric"]
    X, df = named_models["X"], named_models["df"]
    with pytest.raises(ValueError, match="X has 5 features, but GBMClassifier is expecting 8"):
        plain.predict(X[:, :5])  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="0 sample"):
        plain.predict_proba(X[:0])  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="Expected 2D array"):
        plain.predict(X[0])  # type: ignore[attr-defined]
    bad = X[:3].copy()
    bad[1, 4] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        plain.predict(bad)  # type: ignore[attr-defined]
    big = np.repeat(X, 4, axis=0)  # past the small-array test: the summed check
    big[-1, -1] = -np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        plain.predict(big)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="Input X contains infinity"):
        numeric.predict(df.iloc[:3].replace(df.iloc[1, 1], np.inf))  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="could not convert"):
        numeric.predict(df.astype({"b": object}).assign(b="x"))  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        numeric.predict(X[:3])  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match="X has feature names, but GBMClassifier was fitted "
                                         "without feature names"):
        plain.predict(df.iloc[:3])  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        numeric.predict(pd.DataFrame(X[:3]))  # type: ignore[attr-defined]
    # Other dtypes are converted by scikit-learn, as before.
    validations.clear()
    ints = np.round(np.nan_to_num(X[:20]) * 3).astype(np.int64)
    np.testing.assert_array_equal(plain.predict_proba(ints),  # type: ignore[attr-defined]
                                  plain.predict_proba(ints.astype(np.float64)))  # type: ignore[attr-defined]
    assert len(validations) == 1
    validations.clear()
    plain.predict(X[:20].astype(np.float16))  # type: ignore[attr-defined]
    plain.predict(np.asarray(X[:20], dtype=">f8"))  # type: ignore[attr-defined]
    assert len(validations) == 2


def test_fast_path_after_pickling(named_models: dict[str, object], validations: list[int]
                                  ) -> None:
    est, df = named_models["numeric"], named_models["df"]
    assert "_fast" not in est.__getstate__()  # type: ignore[attr-defined]
    assert "_fast" in vars(est)  # getting the state leaves the estimator as it was
    again = pickle.loads(pickle.dumps(est))
    validations.clear()
    _assert_same(_predictions(again, df), _predictions(est, df))
    assert validations == []
    # A refit model never takes the previous fit's fast path.
    refit = clone(est).fit(df[NAMES[:4]], named_models["y"])  # type: ignore[index]
    with pytest.raises(ValueError, match="X has 8 features, but GBMClassifier is expecting 4"), \
            pytest.warns(UserWarning, match="X does not have valid feature names"):
        refit.predict(named_models["X"])


# scikit-learn reads no names from a RecordBatch: its slow-path warning is a false alarm
# (the fast path matches the batch's names exactly).
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_fast_path_on_arrow_batches_chunks_and_changing_schemas(
        named_models: dict[str, object], validations: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrow tables of one and several chunks, record batches, and a table whose schema
    differs from the one the fast path saw last (same names, other types)."""
    pa = pytest.importorskip("pyarrow")
    est, df = named_models["polars"], named_models["df"]
    t32 = pa.Table.from_pandas(df.astype(np.float32), preserve_index=False)  # type: ignore[attr-defined]
    t64 = pa.Table.from_pandas(df, preserve_index=False)  # type: ignore[arg-type]
    chunked = pa.concat_tables([t64.slice(0, 7), t64.slice(7, 30), t32.slice(37, 5).cast(
        t64.schema)])
    assert chunked.column(0).num_chunks == 3
    ints = t64.set_column(2, "c", pa.array(np.arange(t64.num_rows) % 3, pa.int64()))
    nulls = t32.set_column(0, "a", pa.array([None] * t32.num_rows, pa.float32()))
    for X in (t32, t32.slice(5, 1), t64, chunked, t32.to_batches()[0], nulls, t32):
        _assert_same(*_fast_and_slow(est, X, validations, monkeypatch))
    # other types under the same names: the Booster reads the table itself, as before
    _assert_same(*_fast_and_slow(est, ints, validations, monkeypatch))
    _assert_same(*_fast_and_slow(est, t64, validations, monkeypatch))
