"""Interaction constraints: every branch splits only on features of one allowed set."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from sapwood.errors import ParameterError


def _data(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    # strong cross-set interactions the constraint must forbid: x0*x2, x1*x3
    y = X[:, 0] * X[:, 2] + X[:, 1] * X[:, 3] + X[:, 0] * X[:, 1] + 0.3 * X[:, 4] \
        + 0.3 * rng.normal(size=n)
    return X, y


def _branch_feature_sets(booster: sapwood.Booster) -> list[set[int]]:
    """The set of features split on along every root-to-leaf branch of every tree."""
    out: list[set[int]] = []
    for t in booster.trees():
        feat = np.asarray(t["feature"])
        left, right = np.asarray(t["left"]), np.asarray(t["right"])
        stack: list[tuple[int, frozenset[int]]] = [(0, frozenset())]
        while stack:
            node, used = stack.pop()
            if left[node] < 0 or left[node] == node:  # a leaf
                out.append(set(used))
                continue
            u = used | {int(feat[node])}
            stack.append((int(left[node]), u))
            stack.append((int(right[node]), u))
    return out


def _allowed(used: set[int], sets: list[set[int]]) -> bool:
    return any(used <= s for s in sets)


def test_branches_stay_inside_one_set() -> None:
    X, y = _data()
    constraint = [[0, 1], [2, 3]]  # x4 is in no set: it may only be used alone
    sets = [{0, 1}, {2, 3}, {4}]
    p = {"n_estimators": 30, "num_leaves": 15, "learning_rate": 0.3}
    got = sapwood.train({**p, "interaction_constraints": constraint}, sapwood.Dataset(X, y))
    branches = _branch_feature_sets(got)
    assert all(_allowed(b, sets) for b in branches)
    assert any(b == {0, 1} for b in branches) and any(b == {4} for b in branches)
    free = sapwood.train(p, sapwood.Dataset(X, y))  # the data does call for crossing sets
    assert not all(_allowed(b, sets) for b in _branch_feature_sets(free))
    again = sapwood.Booster.from_bytes(got.to_bytes())
    assert again.params["interaction_constraints"] == [[0, 1], [2, 3], [4]]


def test_names_equal_positions() -> None:
    pd = pytest.importorskip("pandas")
    X, y = _data(2000, seed=1)
    df = pd.DataFrame(X, columns=list("abcde"))
    p = {"n_estimators": 8, "num_leaves": 7}
    a = sapwood.train({**p, "interaction_constraints": [["a", "b"], ["c", "d"]]},
                      sapwood.Dataset(df, y))
    b = sapwood.train({**p, "interaction_constraints": [[0, 1], [2, 3]]}, sapwood.Dataset(df, y))
    np.testing.assert_array_equal(a.predict(df), b.predict(df))


def test_bad_constraints_are_named() -> None:
    X, y = _data(300)
    ds = sapwood.Dataset(X, y)
    with pytest.raises(ParameterError, match="list of lists"):
        sapwood.train({"interaction_constraints": [0, 1], "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="position in"):
        sapwood.train({"interaction_constraints": [[0, 9]], "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="not in the data"):
        sapwood.train({"interaction_constraints": [["zz"]], "n_estimators": 2}, ds)
