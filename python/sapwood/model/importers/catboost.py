"""Import CatBoost models saved as JSON (``model.save_model(path, format="json")``).

Numeric features only (a model with categorical, text or embedding features raises
:class:`sapwood.ModelFormatError`), losses ``Logloss`` / ``CrossEntropy`` (binary), ``RMSE``
(regression) and ``MultiClass`` (K outputs, softmax: each CatBoost tree becomes one round of K
trees of the same splits, output k taking leaf value ``leaf_values[leaf * K + k]``). CatBoost's trees are oblivious: split ``i`` of a tree
sets bit ``i`` of the leaf index when ``x > border``; the tree becomes an ordinary complete
tree whose root level is the last split (the index's highest bit), so sapwood's oblivious
predictor recognises it and scores the same values (float32 comparisons, as CatBoost's).
Missing values follow the feature's ``nan_value_treatment``: ``AsTrue`` sends them right
(bit set), ``AsFalse`` and ``AsIs`` left. The raw score is ``bias + scale * sum of leaves``:
the bias becomes the initial score and the scale multiplies the leaf values.

May import: ``errors``, ``objectives``, ``model.booster``, ``model.builder``,
``model.provenance``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ...errors import ModelFormatError
from ..booster import Booster
from ..builder import ModelBuilder
from ..provenance import imported
from ._common import read_source

__all__ = ["import_catboost_json"]

_LOSSES = {"Logloss": "binary", "CrossEntropy": "binary", "RMSE": "regression",
           "MultiClass": "multiclass"}


def _get(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ModelFormatError(f"field '{where}{key}' is missing")
    v = d[key]
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise ModelFormatError(f"field '{where}{key}' has the wrong type ({type(v).__name__})")
    return v


def _tree(t: Any, i: int, features: list[dict[str, Any]], scale: float,
          k_out: int) -> list[dict[str, np.ndarray]]:
    """CatBoost tree i as k_out sapwood trees (one per output, the same splits)."""
    where = f"oblivious_trees[{i}]."
    splits = _get(t, "splits", list, where)
    values = _get(t, "leaf_values", list, where)
    depth = len(splits)
    if depth > 16:
        raise ModelFormatError(f"field '{where}splits' has {depth} levels; at most 16 are read")
    if len(values) != k_out * 2 ** depth:
        raise ModelFormatError(f"field '{where}leaf_values' has {len(values)} values for "
                               f"{depth} splits and {k_out} output(s) ({k_out * 2 ** depth})")
    weights = t.get("leaf_weights", [1.0] * 2 ** depth)
    if not isinstance(weights, list) or len(weights) != 2 ** depth:
        raise ModelFormatError(f"field '{where}leaf_weights' must hold one weight per leaf")
    n_nodes = 2 ** (depth + 1) - 1
    feature = np.full(n_nodes, -1, np.int32)
    threshold = np.zeros(n_nodes, np.float32)
    dleft = np.zeros(n_nodes, np.uint8)
    left = np.full(n_nodes, -1, np.int32)
    right = np.full(n_nodes, -1, np.int32)
    for lv in range(depth):
        s = splits[depth - 1 - lv]  # the root tests the index's highest bit: the last split
        sw = f"{where}splits[{depth - 1 - lv}]."
        if not isinstance(s, dict) or s.get("split_type", "FloatFeature") != "FloatFeature":
            raise ModelFormatError(f"field '{sw}split_type' is {s.get('split_type')!r} "
                                   "(only FloatFeature splits are imported)"
                                   if isinstance(s, dict) else f"field '{sw[:-1]}' is not an object")
        fi = _get(s, "float_feature_index", int, sw)
        if not 0 <= fi < len(features):
            raise ModelFormatError(f"field '{sw}float_feature_index' is {fi}, not in "
                                   f"[0, {len(features)})")
        border = float(_get(s, "border", (int, float), sw))
        info = features[fi]
        nan_right = info.get("nan_value_treatment", "AsIs") == "AsTrue"
        for n in range(2 ** lv - 1, 2 ** (lv + 1) - 1):
            feature[n] = int(info["flat_feature_index"])
            threshold[n] = np.float32(border)
            dleft[n] = 0 if nan_right else 1
            left[n], right[n] = 2 * n + 1, 2 * n + 2
    try:
        leaves = np.asarray(values, np.float64).reshape(2 ** depth, k_out) * scale
        w = np.maximum(np.asarray(weights, np.float64), 0.0)
    except (TypeError, ValueError):
        raise ModelFormatError(f"field '{where}leaf_values' or 'leaf_weights' holds a value "
                               "that is not a number") from None
    if not np.isfinite(leaves).all() or not np.isfinite(w).all():
        raise ModelFormatError(f"field '{where}leaf_values' holds a non-finite value")
    first = 2 ** depth - 1
    hess = np.zeros(n_nodes)
    hess[first:] = w
    for n in range(first - 1, -1, -1):  # internal covers: the sum of their children's
        hess[n] = hess[2 * n + 1] + hess[2 * n + 2]
    hess = np.maximum(hess, 1e-300)  # TreeSHAP needs positive covers; empty leaves add nothing
    out = []
    for k in range(k_out):
        value = np.zeros(n_nodes)
        value[first:] = leaves[:, k]
        out.append({"feature": feature.copy(), "threshold": threshold.copy(),
                    "default_left": dleft.copy(), "left": left.copy(), "right": right.copy(),
                    "value": value, "hess": hess.copy()})
    return out


def import_catboost_json(source: str | os.PathLike[str] | bytes | bytearray) -> Booster:
    """A CatBoost JSON model (a path or the file's bytes) as a sapwood Booster."""
    data = read_source(source)
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFormatError(f"not a CatBoost JSON model: {exc}") from None
    info = _get(doc, "features_info", dict, "")
    for kind in ("categorical_features", "text_features", "embedding_features"):
        if info.get(kind):
            raise ModelFormatError(f"field 'features_info.{kind}' is not empty: only numeric "
                                   "features are imported")
    features = _get(info, "float_features", list, "features_info.")
    for j, f in enumerate(features):
        w = f"features_info.float_features[{j}]."
        _get(f, "flat_feature_index", int, w)
        if f.get("nan_value_treatment", "AsIs") not in ("AsIs", "AsFalse", "AsTrue"):
            raise ModelFormatError(f"field '{w}nan_value_treatment' is "
                                   f"{f.get('nan_value_treatment')!r}")
    n_features = max([int(f["flat_feature_index"]) for f in features], default=-1) + 1
    names = [f"f{i}" for i in range(n_features)]
    for f in features:
        fid = f.get("feature_id")
        if isinstance(fid, str) and fid:
            names[int(f["flat_feature_index"])] = fid
    params = _get(doc, "model_info", dict, "").get("params", {})
    loss = params.get("loss_function", {}).get("type") if isinstance(params, dict) else None
    if loss not in _LOSSES:
        raise ModelFormatError(f"field 'model_info.params.loss_function.type' is {loss!r}; "
                               f"imported: {', '.join(_LOSSES)}")
    objective = _LOSSES[loss]
    scale_bias = doc.get("scale_and_bias", [1.0, [0.0]])
    try:
        scale = float(scale_bias[0])
        bias_v = scale_bias[1]
        bias = [float(b) for b in (bias_v if isinstance(bias_v, list) else [bias_v])]
    except (TypeError, ValueError, IndexError):
        raise ModelFormatError("field 'scale_and_bias' must be [scale, [bias, ...]]") from None
    trees = _get(doc, "oblivious_trees", list, "")
    k_out = len(bias)
    if objective == "multiclass":
        if k_out == 1 and trees:  # a bias of one value for every class: K from the leaves
            t0 = trees[0]
            n_leaves = 2 ** len(t0.get("splits", [])) if isinstance(t0, dict) else 1
            k_out = max(1, len(t0.get("leaf_values", [])) // n_leaves) if isinstance(
                t0, dict) else 1
            bias = bias * k_out
        if k_out < 2:
            raise ModelFormatError(f"field 'scale_and_bias' has {k_out} output(s); a MultiClass "
                                   "model needs at least 2")
    elif k_out != 1:
        raise ModelFormatError(f"field 'scale_and_bias' has {k_out} outputs; a {loss} model "
                               "has one")
    mb = ModelBuilder(objective, feature_names=names, init_score=bias,
                      num_class=k_out if objective == "multiclass" else 1)
    for i, t in enumerate(trees):
        for tree in _tree(t, i, features, scale, k_out):
            mb.add_tree(tree, where=f"oblivious_trees[{i}]")
    mb.params = {"objective": objective, "source": f"catboost:{loss}", "grow_policy": "oblivious"}
    mb.provenance = imported("catboost-json", str(loss))
    return Booster.from_builder(mb)
