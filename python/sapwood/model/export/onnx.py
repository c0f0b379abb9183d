"""A Booster as an ONNX graph (``ai.onnx.ml`` tree ensemble), built with the ``onnx`` helpers.

The graph takes one float32 input ``input`` of shape ``(N, num_features)``, the matrix the
trees read (``booster.feature_matrix(X)``), and gives ``value`` (what ``Booster.predict``
gives: ``(N,)``, or ``(N, num_class)`` for multiclass) or, with ``output="raw"``, ``raw``
(the margins).

Exact semantics, node by node:

* numeric split (``x <= threshold`` goes left, NaN to the default side): ``BRANCH_LEQ`` on the
  float32 threshold, true = left, ``missing_value_tracks_true`` = default left. ONNX Runtime
  compares float32 inputs with float32 thresholds, as sapwood does.
* zero-as-missing split (LightGBM's ``missing_type=Zero``: ``|x| <= 1e-35`` also goes to the
  default side): the graph first adds a column holding ``x`` with those values turned into
  NaN (``Where(Abs(x) <= 1e-35, NaN, x)``), and the node is a numeric split on that column.
* categorical split (the category is ``x`` truncated toward zero; categories in the node's set
  go left, any other value right, NaN to the default side): the graph adds a column holding
  ``Sign(x) * Floor(Abs(x))`` and the node is a ``BRANCH_MEMBER`` test on it. Set membership
  needs ``ai.onnx.ml`` opset 5 (the ``TreeEnsemble`` operator, ONNX Runtime 1.20 and later);
  models without categorical splits use ``TreeEnsembleRegressor`` (opset 3), which every
  ONNX Runtime since 1.x runs.

Links: the ensemble gives margins (``post_transform`` NONE; opset 5 has no base values, so
there the initial score is an ``Add`` after it) and the link is a standard node after it:
``Sigmoid`` (binary), ``Softmax`` (multiclass), ``Exp`` (poisson, gamma, tweedie: ONNX has no
exp post-transform), ``TopK`` of every output, smallest first (multi-quantile: each row's levels
sorted, so they never cross, as sapwood predicts them). The ensemble's own ``LOGISTIC`` is not used: ONNX Runtime applies no
post-transform but PROBIT to a one-target regressor.

May import: ``errors``, ``objectives``, ``_compat``, ``model.tree``, ``model.export._common``
and numpy; ``onnx`` lazily.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..._compat import require
from ..._version import __version__
from ...errors import ModelFormatError, ParameterError
from ._common import (
    CATEGORICAL,
    NUMERIC,
    ZERO_AS_MISSING,
    ZERO_THRESHOLD,
    feature_name,
    objective,
    scored_trees,
)

if TYPE_CHECKING:
    from ..booster import Booster

__all__ = ["to_onnx"]

_ML = "ai.onnx.ml"
# Operator set pairs ONNX Runtime accepts together (the checker validates each node).
_OPSETS = {3: 17, 5: 21}
# TreeEnsemble (ai.onnx.ml 5) node modes and post transforms.
_MODE_LEQ, _MODE_LT, _MODE_MEMBER = 0, 1, 6


@dataclass
class _Nodes:
    """One ensemble's internal nodes and leaves, in a form both operator versions are made
    from. Node ids are per tree; leaves are indexed globally."""

    tree: list[int] = field(default_factory=list)
    node: list[int] = field(default_factory=list)  # sapwood's node index in its tree
    column: list[int] = field(default_factory=list)  # input column (after the added ones)
    mode: list[str] = field(default_factory=list)  # "LEQ", "MEMBER", "NEVER"
    threshold: list[float] = field(default_factory=list)
    members: list[np.ndarray] = field(default_factory=list)
    left: list[int] = field(default_factory=list)  # sapwood child index (true branch)
    right: list[int] = field(default_factory=list)  # sapwood child index (false branch)
    missing_left: list[int] = field(default_factory=list)
    # leaves: (tree, sapwood node index, output, value)
    leaves: list[tuple[int, int, int, float]] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)  # per tree: sapwood index of its root


def _collect(booster: Booster, trees: list[Any], m: int) -> tuple[_Nodes, list[int], list[int]]:
    """The ensemble's nodes, and the features whose zero-as-missing / categorical columns the
    graph adds (in the order they are appended after the ``m`` input columns)."""
    zero_features: dict[int, int] = {}
    cat_features: dict[int, int] = {}
    for t in trees:
        st = t.split_type
        f = t.feature
        for i in np.flatnonzero((f >= 0) & (st == ZERO_AS_MISSING)).tolist():
            zero_features.setdefault(int(f[i]), len(zero_features))
        for i in np.flatnonzero((f >= 0) & (st == CATEGORICAL)).tolist():
            cat_features.setdefault(int(f[i]), len(cat_features))
    nz = len(zero_features)
    out = _Nodes()
    for ti, t in enumerate(trees):
        feature, thr, dl = t.feature, t.threshold, t.default_left
        left, right, value, st = t.left, t.right, t.value, t.split_type
        out.roots.append(0)
        for i in range(t.num_nodes):
            f = int(feature[i])
            if f < 0:
                out.leaves.append((ti, i, int(t.output), float(value[i])))
                continue
            if f >= m:
                raise ModelFormatError(f"tree {ti} node {i} splits on feature {f}, outside "
                                       f"[0, {m})")
            kind = int(st[i])
            members = np.zeros(0, dtype=np.int64)
            if kind == NUMERIC:
                column, mode = f, "LEQ"
            elif kind == ZERO_AS_MISSING:
                column, mode = m + zero_features[f], "LEQ"
            elif kind == CATEGORICAL:
                column = m + nz + cat_features[f]
                members = t.categories(i)
                mode = "MEMBER" if members.size else "NEVER"
            else:
                raise ModelFormatError(f"tree {ti} node {i} (feature "
                                       f"{feature_name(booster, f)}) has split type {kind}, "
                                       "which ONNX export does not know")
            out.tree.append(ti)
            out.node.append(i)
            out.column.append(column)
            out.mode.append(mode)
            out.threshold.append(float(thr[i]) if kind != CATEGORICAL else 0.0)
            out.members.append(members)
            out.left.append(int(left[i]))
            out.right.append(int(right[i]))
            out.missing_left.append(int(bool(dl[i])))
    return out, list(zero_features), list(cat_features)


def to_onnx(booster: Booster, *, output: Literal["value", "raw"] = "value",
            iteration_range: tuple[int, int] | None = None,
            opset: int | None = None) -> Any:
    """The Booster as an ``onnx.ModelProto`` (see the module docstring for its input and
    outputs). ``iteration_range`` picks rounds as ``predict`` does (default: up to
    ``best_iteration``). ``opset``: the ``ai.onnx.ml`` version, 3 or 5 (default: 3, or 5 when
    the model has categorical splits, which need it)."""
    if output not in ("value", "raw"):
        raise ParameterError(f"output must be 'value' or 'raw', got {output!r}")
    if opset not in (None, 3, 5):
        raise ParameterError(f"opset must be 3 or 5 (ai.onnx.ml), got {opset!r}")
    info = objective(booster)
    onnx = require("onnx", "ONNX export", extra="export")
    helper, TensorProto = onnx.helper, onnx.TensorProto
    k = booster.num_outputs
    m = booster.num_features
    trees = scored_trees(booster, iteration_range)
    nodes, zero_features, cat_features = _collect(booster, trees, m)
    if cat_features and opset == 3:
        names = ", ".join(feature_name(booster, f) for f in cat_features)
        raise ParameterError(f"categorical splits (on feature(s) {names}) need set membership, "
                             "which ai.onnx.ml opset 3 does not have: use opset=5")
    ml_opset = opset or (5 if cat_features else 3)
    init = np.asarray(booster.init_score, dtype=np.float64).reshape(-1)
    if init.size != k:
        raise ModelFormatError(f"init_score has {init.size} values for {k} outputs")

    graph_nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, values: Any, dtype: Any = np.float32) -> str:
        arr = np.asarray(values, dtype=dtype)
        initializers.append(onnx.numpy_helper.from_array(arr, name))
        return name

    # The columns the trees read: the input, then the added zero-as-missing and category
    # columns.
    features = "input"
    extra: list[str] = []
    if zero_features:
        const("zero_features", zero_features, np.int64)
        const("zero_threshold", np.float32(ZERO_THRESHOLD))
        const("nan", np.float32(np.nan))
        graph_nodes += [
            helper.make_node("Gather", ["input", "zero_features"], ["zx"], axis=1),
            helper.make_node("Abs", ["zx"], ["zx_abs"]),
            helper.make_node("LessOrEqual", ["zx_abs", "zero_threshold"], ["zx_is_zero"]),
            helper.make_node("Where", ["zx_is_zero", "nan", "zx"], ["zx_missing"]),
        ]
        extra.append("zx_missing")
    if cat_features:
        # the category: the value truncated toward zero (NaN and infinities stay as they are)
        const("cat_features", cat_features, np.int64)
        graph_nodes += [
            helper.make_node("Gather", ["input", "cat_features"], ["cx"], axis=1),
            helper.make_node("Abs", ["cx"], ["cx_abs"]),
            helper.make_node("Floor", ["cx_abs"], ["cx_floor"]),
            helper.make_node("Sign", ["cx"], ["cx_sign"]),
            helper.make_node("Mul", ["cx_sign", "cx_floor"], ["cx_code"]),
        ]
        extra.append("cx_code")
    if extra:
        graph_nodes.append(helper.make_node("Concat", ["input", *extra], ["features"], axis=1))
        features = "features"

    if ml_opset == 3:
        graph_nodes.append(_regressor_v3(helper, nodes, k, init, features))
    else:
        graph_nodes += _ensemble_v5(helper, TensorProto, nodes, k, features)
        const("init_score", init.reshape(1, k))
        graph_nodes.append(helper.make_node("Add", ["ensemble_sum", "init_score"], ["ensemble"]))
    # The link as a standard node (ONNX Runtime applies no LOGISTIC post_transform to a
    # one-target regressor, and there is no exp post_transform at all).
    result = "ensemble"
    link = info.link_for(booster.num_class)
    if output == "value" and link == "sort":
        # multi-quantile: each row's levels in ascending order (as the C++ transform sorts
        # them), so the exported quantiles never cross either: TopK of all k, smallest first
        const("num_levels", [k], np.int64)
        graph_nodes.append(helper.make_node("TopK", ["ensemble", "num_levels"],
                                            ["linked", "linked_order"], axis=-1, largest=0,
                                            sorted=1))
        result = "linked"
    elif output == "value" and info.link != "identity":
        op = {"sigmoid": "Sigmoid", "softmax": "Softmax", "exp": "Exp"}[info.link]
        attrs = {"axis": -1} if op == "Softmax" else {}
        graph_nodes.append(helper.make_node(op, ["ensemble"], ["linked"], **attrs))
        result = "linked"
    out_name = "value" if output == "value" else "raw"
    if k == 1:
        const("flat", [-1], np.int64)
        graph_nodes.append(helper.make_node("Reshape", [result, "flat"], [out_name]))
        out_shape: list[Any] = ["N"]
    else:
        graph_nodes.append(helper.make_node("Identity", [result], [out_name]))
        out_shape = ["N", k]
    graph = helper.make_graph(
        graph_nodes, "sapwood",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", m])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
        initializer=initializers,
        doc_string=("input: booster.feature_matrix(X) as float32, columns " +
                    json.dumps(booster.feature_names)),
    )
    model = helper.make_model(
        graph, producer_name="sapwood", producer_version=__version__,
        opset_imports=[helper.make_opsetid("", _OPSETS[ml_opset]),
                       helper.make_opsetid(_ML, ml_opset)])
    model.ir_version = min(int(model.ir_version), 10)  # what ONNX Runtime 1.20+ reads
    meta = {
        "feature_names": json.dumps(booster.feature_names),
        "categorical_features": json.dumps(booster.categorical_features),
        "objective": booster.objective,
        "num_class": str(booster.num_class),
        "output": output,
    }
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def _regressor_v3(helper: Any, n: _Nodes, k: int, init: np.ndarray, features: str) -> Any:
    """``TreeEnsembleRegressor`` (ai.onnx.ml 3): node ids are sapwood's node indices."""
    treeids, nodeids, featureids, modes, values = [], [], [], [], []
    true_ids, false_ids, missing = [], [], []
    for j in range(len(n.tree)):
        treeids.append(n.tree[j])
        nodeids.append(n.node[j])
        featureids.append(n.column[j])
        modes.append("BRANCH_LEQ")
        values.append(n.threshold[j])
        true_ids.append(n.left[j])
        false_ids.append(n.right[j])
        missing.append(n.missing_left[j])
    t_tree, t_node, t_id, t_w = [], [], [], []
    for ti, i, out, v in n.leaves:
        treeids.append(ti)
        nodeids.append(i)
        featureids.append(0)
        modes.append("LEAF")
        values.append(0.0)
        true_ids.append(0)
        false_ids.append(0)
        missing.append(0)
        t_tree.append(ti)
        t_node.append(i)
        t_id.append(out)
        t_w.append(v)
    # ONNX wants each tree's nodes together, in node-id order
    order = sorted(range(len(treeids)), key=lambda j: (treeids[j], nodeids[j]))

    def pick(a: list[Any]) -> list[Any]:
        return [a[j] for j in order]

    return helper.make_node(
        "TreeEnsembleRegressor", [features], ["ensemble"], domain=_ML,
        n_targets=k, aggregate_function="SUM", post_transform="NONE",
        base_values=[float(np.float32(v)) for v in init],
        nodes_treeids=pick(treeids), nodes_nodeids=pick(nodeids),
        nodes_featureids=pick(featureids), nodes_modes=pick(modes),
        nodes_values=[float(v) for v in pick(values)],
        nodes_truenodeids=pick(true_ids), nodes_falsenodeids=pick(false_ids),
        nodes_missing_value_tracks_true=pick(missing),
        target_treeids=t_tree, target_nodeids=t_node, target_ids=t_id,
        target_weights=[float(v) for v in t_w],
    )


def _ensemble_v5(helper: Any, TensorProto: Any, n: _Nodes, k: int, features: str) -> list[Any]:
    """``TreeEnsemble`` (ai.onnx.ml 5): internal nodes and leaves in separate arrays."""
    n_trees = len(n.roots)
    # index of each internal node / leaf by (tree, sapwood node index)
    node_index = {(n.tree[j], n.node[j]): j for j in range(len(n.tree))}
    leaf_index = {(ti, i): j for j, (ti, i, _, _) in enumerate(n.leaves)}
    featureids: list[int] = list(n.column)
    modes: list[int] = []
    splits: list[float] = []
    members: list[float] = []
    true_ids, true_leaf, false_ids, false_leaf = [], [], [], []

    def child(ti: int, i: int) -> tuple[int, int]:
        if (ti, i) in node_index:
            return node_index[(ti, i)], 0
        return leaf_index[(ti, i)], 1

    for j in range(len(n.tree)):
        mode = n.mode[j]
        if mode == "LEQ":
            modes.append(_MODE_LEQ)
            splits.append(n.threshold[j])
        elif mode == "MEMBER":
            modes.append(_MODE_MEMBER)
            splits.append(float("nan"))
            members += [float(c) for c in n.members[j]] + [float("nan")]
        else:  # an empty category set: no value goes left ("x < -inf")
            modes.append(_MODE_LT)
            splits.append(float("-inf"))
        a, al = child(n.tree[j], n.left[j])
        b, bl = child(n.tree[j], n.right[j])
        true_ids.append(a)
        true_leaf.append(al)
        false_ids.append(b)
        false_leaf.append(bl)
    roots: list[int] = []
    for ti in range(n_trees):
        if (ti, 0) in node_index:
            roots.append(node_index[(ti, 0)])
            continue
        # A one-leaf tree: a node whose both branches reach the leaf.
        leaf = leaf_index[(ti, 0)]
        roots.append(len(featureids))
        featureids.append(0)
        modes.append(_MODE_LEQ)
        splits.append(0.0)
        true_ids.append(leaf)
        true_leaf.append(1)
        false_ids.append(leaf)
        false_leaf.append(1)
    missing = list(n.missing_left) + [0] * (len(featureids) - len(n.missing_left))
    attrs: dict[str, Any] = {}
    if members:
        attrs["membership_values"] = helper.make_tensor(
            "membership_values", TensorProto.FLOAT, [len(members)], members)
    node = helper.make_node(
        "TreeEnsemble", [features], ["ensemble_sum"], domain=_ML,
        n_targets=k, aggregate_function=1, post_transform=0,
        tree_roots=roots, nodes_featureids=featureids,
        nodes_modes=helper.make_tensor("nodes_modes", TensorProto.UINT8, [len(modes)], modes),
        nodes_splits=helper.make_tensor("nodes_splits", TensorProto.FLOAT, [len(splits)],
                                        splits),
        nodes_truenodeids=true_ids, nodes_trueleafs=true_leaf,
        nodes_falsenodeids=false_ids, nodes_falseleafs=false_leaf,
        nodes_missing_value_tracks_true=missing,
        leaf_targetids=[out for _, _, out, _ in n.leaves],
        leaf_weights=helper.make_tensor("leaf_weights", TensorProto.FLOAT, [len(n.leaves)],
                                        [v for _, _, _, v in n.leaves]),
        **attrs,
    )
    return [node]
