"""The public model builder, the read-only tree views, and the objective registry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sapwood
from sapwood import _core, objectives
from sapwood.model import Booster, ModelBuilder, Tree

CPP = Path(__file__).resolve().parents[2] / "cpp"


def stump(feature: int, threshold: float, lo: float, hi: float) -> dict[str, np.ndarray]:
    return {
        "feature": np.array([feature, -1, -1], np.int32),
        "threshold": np.array([threshold, 0, 0], np.float32),
        "default_left": np.array([1, 0, 0], np.uint8),
        "left": np.array([1, -1, -1], np.int32),
        "right": np.array([2, -1, -1], np.int32),
        "value": np.array([0.0, lo, hi]),
    }


def test_builder_makes_a_booster_that_scores_like_a_plain_walk() -> None:
    mb = ModelBuilder("binary", feature_names=["a", "b"], init_score=[0.25])
    mb.add_round([stump(0, 0.5, -1.0, 2.0)])
    mb.add_tree(stump(1, -0.5, 0.5, -0.25))
    b = Booster.from_builder(mb)
    X = np.array([[0.0, 0.0], [1.0, -1.0], [np.nan, 3.0], [0.5, -0.5]])
    raw = 0.25 + np.where(np.isnan(X[:, 0]) | (X[:, 0] <= 0.5), -1.0, 2.0) \
        + np.where(X[:, 1] <= -0.5, 0.5, -0.25)
    np.testing.assert_allclose(b.predict(X, output="raw"), raw)
    np.testing.assert_allclose(b.predict(X), 1 / (1 + np.exp(-raw)))
    # and round-trips through the model file bit for bit
    again = Booster.from_bytes(b.to_bytes())
    assert again.to_bytes() == b.to_bytes()


def test_builder_rounds_follow_the_outputs() -> None:
    mb = ModelBuilder("multiclass", num_class=3, feature_names=["x"], init_score=[0, 0, 0])
    mb.add_round([stump(0, 0.0, -1, 1), stump(0, 0.0, 1, -1), stump(0, 1.0, 0, 2)])
    with pytest.raises(sapwood.ModelFormatError, match=r"trees\[3\].output"):
        mb.add_tree(stump(0, 0.0, 0, 0), output=2)
    with pytest.raises(sapwood.ModelFormatError, match="a round needs 3"):
        mb.add_round([stump(0, 0.0, 0, 0)])
    b = Booster.from_builder(mb)
    assert b.tree_outputs.tolist() == [0, 1, 2]
    assert [t.output for t in b.trees()] == [0, 1, 2]


@pytest.mark.parametrize("kwargs, match", [
    ({"objective": "no_such_objective"}, "objective"),
    ({"objective": "multiclass", "num_class": 1}, "num_class"),
    ({"objective": "binary", "num_class": -5}, "num_class"),
    ({"feature_names": ["a", "a"]}, "duplicate"),
    ({"feature_names": 5}, "feature_names"),
    ({"init_score": [np.inf]}, "init_score"),
    ({"init_score": [0.0, 1.0]}, "init_score"),
])
def test_builder_refuses_what_cannot_predict_or_round_trip(kwargs: dict[str, Any],
                                                          match: str) -> None:
    args = {"objective": "regression", "feature_names": ["a"], **kwargs}
    with pytest.raises(sapwood.ModelFormatError, match=match):
        ModelBuilder(args.pop("objective"), **args)


@pytest.mark.parametrize("pc, match", [
    ([1, 2], "pandas_categorical"),
    ({}, "pandas_categorical"),
    ([[["nested"]]], "pandas_categorical"),
    ([["a", "a"]], "repeated"),
])
def test_builder_checks_pandas_categorical(pc: object, match: str) -> None:
    mb = ModelBuilder("regression", feature_names=["a"])
    mb.add_tree(stump(0, 0.0, 0, 1))
    mb.pandas_categorical = pc  # type: ignore[assignment]
    with pytest.raises(sapwood.ModelFormatError, match=match):
        Booster.from_builder(mb)


def test_bad_tree_structure_is_caught_when_the_booster_is_built() -> None:
    t = stump(0, 0.0, 0, 1)
    t["left"][0] = 7
    mb = ModelBuilder("regression", feature_names=["a"])
    mb.add_tree(t)
    with pytest.raises(sapwood.ModelFormatError, match="trees"):
        Booster.from_builder(mb)
    t = stump(0, 0.0, 0, 1)
    del t["value"]
    with pytest.raises(sapwood.ModelFormatError, match=r"trees\[0\].value' is missing"):
        ModelBuilder("regression", feature_names=["a"]).add_tree(t)


def test_tree_view_is_read_only_and_canonical() -> None:
    X = np.random.default_rng(0).standard_normal((400, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    b = sapwood.train({"objective": "binary", "n_estimators": 3, "num_leaves": 4, "n_jobs": 1},
                      sapwood.Dataset(X, y))
    t = b.tree(0)
    assert isinstance(t, Tree) and t.num_nodes == t["feature"].size
    with pytest.raises(ValueError):
        t.feature[0] = 5
    assert t.is_leaf.sum() == t.num_leaves
    assert t.default_left.dtype == bool
    np.testing.assert_array_equal(t.cover, t["hess"])
    # depth against a plain recursive walk
    def depth(i: int) -> int:
        return 0 if t.feature[i] < 0 else 1 + max(depth(t.left[i]), depth(t.right[i]))
    assert t.depth == depth(0)
    with pytest.raises(sapwood.ParameterError):
        b.tree(99)
    # a feature stored as uint32 (leaves at 0xFFFFFFFF) reads as int32 with -1 leaves
    raw = {k: np.array(v) for k, v in t.items()}
    raw["feature"] = raw["feature"].astype(np.uint32)
    assert (Tree(raw).feature == t.feature).all()


def test_tree_categories_read_the_bitset() -> None:
    t = stump(0, 0.0, 0, 1)
    t.update(split_type=np.array([2, 0, 0], np.uint8), cat_begin=np.zeros(3, np.int32),
             cat_size=np.array([2, 0, 0], np.int32),
             cat_bits=np.array([0b1010, 1 << 1], np.uint32))
    view = Tree(t)
    assert view.categories(0).tolist() == [1, 3, 33]
    assert view.categories(1).tolist() == []


# --------------------------------------------------------------------------- registry
def test_registry_names_are_what_cpp_parses() -> None:
    src = (CPP / "src" / "objective.cpp").read_text()
    body = src[src.index("ObjectiveKind ParseObjective"):src.index("Objective::Objective(")]
    parsed = set(re.findall(r'name == "([^"]+)"', body))
    assert parsed == set(objectives.names())
    kinds = re.search(r"enum class ObjectiveKind \{([^}]*)\}",
                      (CPP / "include" / "sapwood" / "objective.hpp").read_text())
    assert kinds is not None and len(kinds.group(1).split(",")) == len(objectives.REGISTRY)


@pytest.mark.parametrize("info", objectives.REGISTRY, ids=lambda o: o.name)
def test_each_link_matches_the_cpp_transform(info: objectives.ObjectiveInfo) -> None:
    k = 3 if info.multi_output else 1
    raw = np.random.default_rng(1).normal(size=(20, k))
    out = raw.copy()
    _core.transform_scores(info.name, k, out, 1)
    np.testing.assert_allclose(out, objectives.link_transform(info.link, raw), rtol=1e-12)


def test_registry_is_consistent() -> None:
    seen: set[str] = set()
    for o in objectives.REGISTRY:
        for n in (o.name, *o.aliases):
            assert n not in seen, n
            seen.add(n)
        assert sapwood.metrics.default_metric(o.name) == o.default_metric
        assert objectives.resolve(o.name) is o
        assert all(objectives.from_xgboost(n) is o for n in o.xgboost)
        assert all(objectives.from_lightgbm(n) is o for n in o.lightgbm)
    with pytest.raises(sapwood.ParameterError, match="unknown objective"):
        objectives.resolve("no_such_objective")


@pytest.mark.parametrize("name, y, row", [
    ("binary", [0, 1, 2], 2),
    ("multiclass", [0, 1.5, 1], 1),
    ("poisson", [0, 1, -1], 2),
    ("gamma", [1, 0, 2], 1),
    ("regression", [0, np.nan, 1], 1),
])
def test_label_checks_name_the_row(name: str, y: list[float], row: int) -> None:
    with pytest.raises(sapwood.DataError, match=f"row {row}"):
        objectives.get(name).check_labels(np.asarray(y, dtype=float), 3)
