"""A Booster as an XGBoost JSON model (``gbtree``), which XGBoost, Treelite and Triton's FIL
backend load.

Written as plain JSON (no XGBoost needed). The model reads the matrix the trees read,
``booster.feature_matrix(X)``; categorical features are typed ``"c"`` and read as category
codes, as XGBoost does (``DMatrix(..., feature_types=..., enable_categorical=True)``).

Exact semantics, node by node (every float32 input scores as ``Booster.predict`` does):

* numeric split: sapwood sends ``x <= t`` left, XGBoost ``x < c``; with
  ``c = nextafter(t, +inf)`` in float32 the two agree on every float32 ``x``. The default
  (missing) side is kept. One input cannot be written: a threshold of +inf sends ``x = +inf``
  left, which no ``x < c`` does; such a node whose missing side is left is replaced by its left
  subtree (exact), and with the missing side right it sends ``+inf`` inputs right (the only
  difference, noted in the model's ``attributes``).
* zero-as-missing split (LightGBM's ``missing_type=Zero``): ``|x| <= 1e-35`` goes to the default
  side. Where that side agrees with the threshold test on the interval around zero, one XGBoost
  split is exact; otherwise the node becomes three splits (around ``-1e-35``, ``1e-35`` and the
  threshold) with the two subtrees copied, which is exact too.
* categorical split: XGBoost sends a category in the node's set right and any other (and an
  invalid one) left, the reverse of sapwood, so the children and the default side swap.

The initial score: XGBoost's ``base_score`` on its scale (a probability for ``binary``, a mean
for the log links); for ``multiclass`` the per-class initial scores are added to the leaves of
the first round's trees (older XGBoost and Treelite read one scalar ``base_score``).

May import: ``errors``, ``objectives``, ``model.tree``, ``model.export._common`` and numpy.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelFormatError, ParameterError
from ._common import (
    CATEGORICAL,
    NUMERIC,
    ZERO_AS_MISSING,
    ZERO_THRESHOLD,
    feature_name,
    objective,
    refuse_sorted_outputs,
    scored_trees,
)

if TYPE_CHECKING:
    from ..booster import Booster
    from ..tree import Tree

__all__ = ["to_xgboost_json"]

_F32 = np.float32
_Z = _F32(ZERO_THRESHOLD)
_INF = _F32(np.inf)
# A tree whose zero-as-missing splits would copy subtrees past this many nodes is refused.
_MAX_NODES = 1 << 22


def _next_up(v: float) -> float:
    """The smallest float32 above float32 ``v``: ``x <= v`` <=> ``x < _next_up(v)``."""
    return float(np.nextafter(_F32(v), _INF))


class _TreeWriter:
    """Writes one tree's XGBoost node arrays in pre-order (root 0), without recursion (sapwood
    trees may be deeper than Python's recursion limit)."""

    def __init__(self, booster: Booster, tree: Tree, ti: int, leaf_shift: float) -> None:
        self.booster, self.t, self.ti, self.shift = booster, tree, ti, leaf_shift
        self.left: list[int] = []
        self.right: list[int] = []
        self.parent: list[int] = []
        self.cond: list[float] = []
        self.feature: list[int] = []
        self.default_left: list[int] = []
        self.split_type: list[int] = []
        self.hess: list[float] = []
        self.gain: list[float] = []
        self.cat_sets: list[tuple[int, list[int]]] = []  # (node, its categories)
        self.inf_right = 0  # +inf thresholds with the missing side right (see the docstring)

    def _alloc(self, parent: int) -> int:
        j = len(self.left)
        if j >= _MAX_NODES:
            raise ModelFormatError(f"tree {self.ti} needs more than {_MAX_NODES} XGBoost nodes "
                                   "(its zero-as-missing splits copy subtrees)")
        self.left.append(-1)
        self.right.append(-1)
        self.feature.append(0)
        self.default_left.append(0)
        self.split_type.append(0)
        self.parent.append(parent if parent >= 0 else 2147483647)
        self.cond.append(0.0)
        self.hess.append(0.0)
        self.gain.append(0.0)
        return j

    def _children(self, j: int) -> tuple[int, int]:
        """Two fresh nodes as ``j``'s children: XGBoost finds the right child at left + 1."""
        a, b = self._alloc(j), self._alloc(j)
        self.left[j], self.right[j] = a, b
        return a, b

    def write(self) -> dict[str, Any]:
        t = self.t
        feature, thr, dl = t.feature, t.threshold, t.default_left
        left, right, value, st = t.left, t.right, t.value, t.split_type
        cover, gain = t.cover, t.gain
        # work items: (kind, payload, slot): what fills XGBoost node ``slot``. kind "node": a
        # sapwood node; "split": a synthetic numeric split (feature, condition, default left,
        # item true, item false)
        stack: list[tuple[str, Any, int]] = [("node", 0, self._alloc(-1))]
        while stack:
            kind, payload, j = stack.pop()
            if kind == "split":
                f, c, d, item_l, item_r = payload
                self.feature[j], self.cond[j], self.default_left[j] = f, c, d
                a, b = self._children(j)
                stack.append((*item_r, b))
                stack.append((*item_l, a))
                continue
            i = int(payload)
            f = int(feature[i])
            if f < 0:
                self.cond[j] = float(_F32(float(value[i]) + self.shift))
                self.hess[j] = float(cover[i])
                continue
            s = int(st[i])
            L, R = ("node", int(left[i])), ("node", int(right[i]))
            d = int(bool(dl[i]))
            if s == NUMERIC or s == ZERO_AS_MISSING:
                t32 = _F32(thr[i])
                if np.isnan(t32):
                    raise ModelFormatError(f"tree {self.ti} node {i} has a NaN threshold")
                if s == ZERO_AS_MISSING:
                    plan = _zero_as_missing(f, t32, d, L, R)
                    if plan is not None:
                        stack.append((*plan, j))
                        continue
                    # (plan None: one plain split is exact; fall through with t32 / d)
                    t32, d = _zero_as_missing_single(t32, d)
                if t32 == _INF and d:
                    stack.append((*L, j))  # every value goes left
                    continue
                self.inf_right += int(t32 == _INF)
                self.feature[j], self.default_left[j] = f, d
                self.cond[j] = _next_up(float(t32)) if t32 != _INF else float("inf")
                self.hess[j], self.gain[j] = float(cover[i]), float(gain[i])
                a, b = self._children(j)
                stack.append((*R, b))
                stack.append((*L, a))
            elif s == CATEGORICAL:
                cats = t.categories(i)
                self.feature[j], self.default_left[j], self.split_type[j] = f, 1 - d, 1
                self.hess[j], self.gain[j] = float(cover[i]), float(gain[i])
                self.cat_sets.append((j, [int(c) for c in cats]))
                # XGBoost sends the set right: sapwood's left subtree becomes its right one
                a, b = self._children(j)
                stack.append((*L, b))
                stack.append((*R, a))
            else:
                raise ModelFormatError(
                    f"tree {self.ti} node {i} (feature {feature_name(self.booster, f)}) has "
                    f"split type {s}, which XGBoost export does not know")
        n = len(self.left)
        # the category sets in node order, as XGBoost lists them
        nodes: list[int] = []
        segments: list[int] = []
        sizes: list[int] = []
        categories: list[int] = []
        for j, members in sorted(self.cat_sets):
            nodes.append(j)
            segments.append(len(categories))
            sizes.append(len(members))
            categories += members
        return {
            "base_weights": [float(_F32(v)) if self.left[j] < 0 else 0.0
                             for j, v in enumerate(self.cond)],
            "categories": categories,
            "categories_nodes": nodes,
            "categories_segments": segments,
            "categories_sizes": sizes,
            "default_left": self.default_left,
            "id": self.ti,
            "left_children": self.left,
            "loss_changes": self.gain,
            "parents": self.parent,
            "right_children": self.right,
            "split_conditions": self.cond,
            "split_indices": self.feature,
            "split_type": self.split_type,
            "sum_hessian": self.hess,
            "tree_param": {"num_deleted": "0", "num_feature": str(self.booster.num_features),
                           "num_nodes": str(n), "size_leaf_vector": "1"},
        }


def _zero_as_missing_single(t: np.float32, d: int) -> tuple[np.float32, int]:
    """A zero-as-missing split that one numeric split reproduces: its threshold and default.
    Intervals: A = x < -z, B = [-z, z] (the default side), C = x > z."""
    if t >= _Z:  # A, (z, t] left, B to the default side: exact when that is left
        return t, d
    if t >= -_Z:  # A left, C right: B's side decides where the cut is
        return (_Z, 1) if d else (np.nextafter(-_Z, -_INF), 0)
    return t, d  # t < -z: (t, -z) and C right; exact when the default side is right


def _zero_as_missing(f: int, t: np.float32, d: int, L: tuple[str, int],
                     R: tuple[str, int]) -> tuple[str, Any] | None:
    """Three XGBoost splits for a zero-as-missing split no single split reproduces (None where
    one does): the values left of ``t`` alternate sides around zero, so both subtrees are
    copied."""
    def split(cond: float, default: int, yes: Any, no: Any) -> tuple[str, Any]:
        return ("split", (f, cond, default, yes, no))

    below_z, up_z, up_t = float(-_Z), _next_up(float(_Z)), _next_up(float(t))
    if t >= _Z and not d:
        # x < -z: L;  -z <= x <= z: R;  z < x <= t: L;  else (and NaN): R
        return split(below_z, 0, L, split(up_z, 0, R, split(up_t, 0, L, R)))
    if t < -_Z and d:
        # x <= t: L;  t < x < -z: R;  -z <= x <= z (and NaN): L;  x > z: R
        return split(up_t, 0, L, split(below_z, 0, R, split(up_z, 1, L, R)))
    return None


def _base_score(link: str, init: np.ndarray) -> float:
    v = float(init[0])
    if link == "sigmoid":
        return 1.0 / (1.0 + math.exp(-v))
    if link == "exp":
        return math.exp(v)
    return v


def to_xgboost_json(booster: Booster, *,
                    iteration_range: tuple[int, int] | None = None) -> str:
    """The Booster as an XGBoost JSON model's text (see the module docstring)."""
    info = objective(booster)
    # XGBoost's multi-quantile models (quantile_alpha lists) do not sort their outputs
    refuse_sorted_outputs(booster, "XGBoost export")
    if not info.xgboost:
        raise ParameterError(f"objective {info.name!r} has no XGBoost equivalent")
    k = booster.num_outputs
    m = booster.num_features
    trees = scored_trees(booster, iteration_range)
    init = np.asarray(booster.init_score, dtype=np.float64).reshape(-1)
    if init.size != k:
        raise ModelFormatError(f"init_score has {init.size} values for {k} outputs")
    shifts = np.zeros(k)
    if info.link == "softmax":
        shifts = init.copy()  # folded into the first round (see the module docstring)
        base = 0.0
        if not trees:
            trees = []  # a leaf-only round holds the initial scores
    else:
        base = _base_score(info.link, init)
        if not math.isfinite(base) or (info.link == "sigmoid" and not 0.0 < base < 1.0) \
                or (info.link == "exp" and not base > 0.0):
            raise ModelFormatError(f"init_score {init[0]} has no XGBoost base_score for "
                                   f"objective {info.name!r}")
    out_trees: list[dict[str, Any]] = []
    inf_right = 0
    for ti, t in enumerate(trees):
        if t.num_nodes and int(t.feature.max(initial=-1)) >= m:
            raise ModelFormatError(f"tree {ti} splits on a feature outside [0, {m})")
        w = _TreeWriter(booster, t, ti, float(shifts[t.output]) if ti < k else 0.0)
        out_trees.append(w.write())
        inf_right += w.inf_right
    if info.link == "softmax" and not trees:
        for j in range(k):
            out_trees.append(_leaf_tree(j, float(shifts[j]), m))
    tree_info = [j % k for j in range(len(out_trees))]
    cat_features = set(booster.categorical_features)
    for t in trees:
        cat_features |= {booster.feature_names[int(f)]
                         for f in t.feature[t.split_type == CATEGORICAL]}
    objective_doc: dict[str, Any] = {"name": info.xgboost[0]}
    if info.name in ("regression", "binary", "gamma"):
        objective_doc["reg_loss_param"] = {"scale_pos_weight": "1"}
    elif info.name == "multiclass":
        objective_doc["softmax_multiclass_param"] = {"num_class": str(k)}
    elif info.name == "poisson":
        mds = booster.params.get("poisson_max_delta_step", 0.7)
        objective_doc["poisson_regression_param"] = {"max_delta_step": repr(float(mds))}
    elif info.name == "tweedie":
        power = booster.params.get("tweedie_variance_power", 1.5)
        objective_doc["tweedie_regression_param"] = {
            "tweedie_variance_power": repr(float(power))}
    attributes = {"sapwood_objective": booster.objective}
    if inf_right:
        attributes["sapwood_note"] = (f"{inf_right} split(s) on a +inf threshold send +inf "
                                      "inputs right (sapwood: left)")
    doc = {
        "learner": {
            "attributes": attributes,
            "feature_names": list(booster.feature_names),
            "feature_types": ["c" if f in cat_features else "float"
                              for f in booster.feature_names],
            "gradient_booster": {
                "model": {
                    "gbtree_model_param": {"num_parallel_tree": "1",
                                           "num_trees": str(len(out_trees))},
                    "iteration_indptr": list(range(0, len(out_trees) + 1, k)),
                    "tree_info": tree_info,
                    "trees": out_trees,
                },
                "name": "gbtree",
            },
            "learner_model_param": {
                "base_score": repr(float(np.float32(base))),
                "boost_from_average": "0",
                "num_class": str(k if k > 1 else 0),
                "num_feature": str(m),
                "num_target": "1",
            },
            "objective": objective_doc,
        },
        "version": [2, 1, 0],
    }
    return json.dumps(doc, allow_nan=True, separators=(",", ":"))


def _leaf_tree(ti: int, value: float, m: int) -> dict[str, Any]:
    v = float(np.float32(value))
    return {"base_weights": [v], "categories": [], "categories_nodes": [],
            "categories_segments": [], "categories_sizes": [], "default_left": [0], "id": ti,
            "left_children": [-1], "loss_changes": [0.0], "parents": [2147483647],
            "right_children": [-1], "split_conditions": [v], "split_indices": [0],
            "split_type": [0], "sum_hessian": [0.0],
            "tree_param": {"num_deleted": "0", "num_feature": str(m), "num_nodes": "1",
                           "size_leaf_vector": "1"}}
