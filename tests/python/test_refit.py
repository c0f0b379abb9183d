"""Booster.refit: the trees kept, their leaf values re-fitted on new data."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from sapwood.errors import ParameterError


def _data(n: int = 4000, seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + rng.normal(scale=0.3, size=n) + shift
    return X, y


@pytest.mark.parametrize("objective", ["regression", "binary", "l1", "quantile"])
def test_refit_on_the_training_data_gives_back_the_model(objective: str) -> None:
    X, y = _data()
    if objective == "binary":
        y = (y > 0).astype(float)
    b = sapwood.train({"objective": objective, "n_estimators": 20, "num_leaves": 15,
                       "reg_lambda": 1.0}, sapwood.Dataset(X, y))
    r = b.refit(X, y, decay_rate=0.0)
    for t1, t2 in zip(b.trees(), r.trees(), strict=True):
        np.testing.assert_array_equal(np.asarray(t1["feature"]), np.asarray(t2["feature"]))
        np.testing.assert_allclose(np.asarray(t2["value"]), np.asarray(t1["value"]),
                                   rtol=1e-9, atol=1e-12)


def test_refit_moves_towards_new_data_and_decay_one_keeps_the_model() -> None:
    X, y = _data(seed=1)
    Xn, yn = _data(seed=2, shift=1.5)  # the same relation, the level moved
    b = sapwood.train({"n_estimators": 30, "num_leaves": 15}, sapwood.Dataset(X, y))
    r = b.refit(Xn, yn, decay_rate=0.5)
    Xt, yt = _data(seed=3, shift=1.5)
    mse = lambda m: float(np.mean((m.predict(Xt) - yt) ** 2))  # noqa: E731
    assert mse(r) < 0.5 * mse(b)
    np.testing.assert_array_equal(b.refit(Xn, yn, decay_rate=1.0).predict(Xt), b.predict(Xt))
    again = sapwood.Booster.from_bytes(r.to_bytes())
    np.testing.assert_array_equal(again.predict(Xt), r.predict(Xt))


def test_refit_refuses_what_it_cannot_do() -> None:
    X, y = _data(500)
    multi = sapwood.train({"objective": "multiclass", "num_class": 3, "n_estimators": 2},
                          sapwood.Dataset(X, (y > 0).astype(float) + (y > 1)))
    with pytest.raises(ParameterError, match="single-output"):
        multi.refit(X, y)
    b = sapwood.train({"n_estimators": 2}, sapwood.Dataset(X, y))
    with pytest.raises(ParameterError, match="decay_rate"):
        b.refit(X, y, decay_rate=1.5)
