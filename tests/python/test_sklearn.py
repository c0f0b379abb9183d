"""The scikit-learn estimators: the library's own estimator checks plus behaviour tests."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sapwood
from conftest import make_classification, make_regression
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
