"""Import XGBoost models (JSON and UBJSON, ``gbtree``).

The objective is read through the registry (``sapwood.objectives``: each objective lists the
XGBoost names that score with its link). XGBoost sends a row left when ``x < split_condition``;
sapwood's test is ``x <= threshold``, so the threshold becomes the next float32 below the split
condition, which is the same test on every float32 input. ``base_score`` is read as XGBoost
stores it (a probability for the logistic objectives, a mean on the response scale for the
log-link ones: margin = log(base_score), a margin otherwise; a scalar or, from XGBoost 3, a
per-output vector). Categorical splits (partition and one-hot) become bitset splits; as in
XGBoost, a categorical feature is read as category codes (``booster.category_code_features``).
Trees carry XGBoost's ``sum_hessian`` as cover, so ``output="contrib"`` matches
``pred_contrib``.

May import: ``errors``, ``objectives``, ``model.booster``, ``model.builder``,
``model.provenance`` and the importers' ``_common`` / ``ubjson``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ... import objectives as _objectives
from ...errors import ModelFormatError
from ..booster import Booster
from ..builder import ModelBuilder
from ..provenance import imported
from ._common import array, count, field, foreign_errors, max_declared, renumber, tweedie_power
from .ubjson import read_ubjson

__all__ = ["import_xgboost_json", "import_xgboost_ubjson"]

_MP = "learner.learner_model_param."


def import_xgboost_json(data: bytes) -> Booster:
    """A Booster from an XGBoost JSON model's bytes."""
    with foreign_errors("XGBoost JSON"):
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFormatError(f"model is not valid JSON: {exc}") from None
        except RecursionError:
            raise ModelFormatError("model is not valid JSON: nested too deeply") from None
        return _import(doc, "xgboost-json", len(data))


def import_xgboost_ubjson(data: bytes) -> Booster:
    """A Booster from an XGBoost UBJSON (``.ubj``) model's bytes."""
    with foreign_errors("XGBoost UBJSON"):
        return _import(read_ubjson(data), "xgboost-ubjson", len(data))


def _parse_base_score(raw: Any) -> list[float]:
    where = f"{_MP}base_score"
    if isinstance(raw, bool):
        raise ModelFormatError(f"field '{where}' is not a number: {raw!r}")
    if isinstance(raw, (int, float)):
        out = [float(raw)]
    elif isinstance(raw, str):
        s = raw.strip()
        try:
            if s.startswith("["):
                out = [float(v) for v in s.strip("[]").split(",") if v.strip()]
            else:
                out = [float(s)]
        except ValueError:
            raise ModelFormatError(f"field '{where}' is not a number: {raw!r}") from None
    else:
        raise ModelFormatError(f"field '{where}' is not a number: {type(raw).__name__}")
    if not out or not all(math.isfinite(v) for v in out):
        raise ModelFormatError(f"field '{where}' must hold finite numbers, got {raw!r}")
    return out


def _source_version(doc: Any) -> str | None:
    v = doc.get("version") if isinstance(doc, dict) else None
    if isinstance(v, (list, np.ndarray)) and 0 < len(v) <= 4 and all(
            isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v):
        return "XGBoost " + ".".join(str(int(x)) for x in v)
    return None


def _import(doc: Any, fmt: str, nbytes: int) -> Booster:
    learner = field(doc, "learner", "")
    gb = field(learner, "gradient_booster", "learner.")
    name = field(gb, "name", "learner.gradient_booster.")
    if name != "gbtree":
        raise ModelFormatError(
            f"field 'learner.gradient_booster.name' is {name!r}; only 'gbtree' models import"
        )
    model = field(gb, "model", "learner.gradient_booster.")
    mparam = field(learner, "learner_model_param", "learner.")
    objective = field(field(learner, "objective", "learner."), "name", "learner.objective.")
    if not isinstance(objective, str):
        raise ModelFormatError(f"field 'learner.objective.name' must be a string, got "
                               f"{type(objective).__name__}")
    trees = field(model, "trees", "learner.gradient_booster.model.")
    if not isinstance(trees, list):
        raise ModelFormatError("field 'learner.gradient_booster.model.trees' must be a list")
    # Declared sizes are checked against the file before anything is allocated for them.
    limit = max_declared(nbytes)
    num_feature = count(field(mparam, "num_feature", _MP), f"{_MP}num_feature", 0, limit)
    num_class = count(mparam.get("num_class", 0), f"{_MP}num_class", 0, limit)
    num_target = count(mparam.get("num_target", 1), f"{_MP}num_target", 0, limit)
    if num_target > 1:
        raise ModelFormatError(f"field '{_MP}num_target' > 1 (multi-target models) is not "
                               "supported")
    info = _objectives.from_xgboost(objective)
    if info is None:
        supported = ", ".join(n for o in _objectives.REGISTRY for n in o.xgboost)
        raise ModelFormatError(f"field 'learner.objective.name' is {objective!r}, which is not "
                               f"supported ({supported} are)")
    if info.multi_output and num_class < 2:
        raise ModelFormatError(f"field '{_MP}num_class' is {num_class}; {objective} needs >= 2")
    k = info.num_outputs(num_class)
    if k > max(len(trees), 1):
        raise ModelFormatError(f"field '{_MP}num_class' is {num_class} but the model holds "
                               f"only {len(trees)} trees")
    base = _parse_base_score(field(mparam, "base_score", _MP))
    params: dict[str, Any] = {}
    if info.link == "exp":
        mean = base[0]
        if not mean > 0.0:  # stored on the response scale: margin = log(base_score)
            raise ModelFormatError(f"field 'base_score' {mean} must be > 0 for {objective}")
        init = [math.log(mean)]
        if info.name == "tweedie":
            oparam = learner["objective"].get("tweedie_regression_param", {})
            where = "learner.objective.tweedie_regression_param.tweedie_variance_power"
            params["tweedie_variance_power"] = tweedie_power(
                oparam.get("tweedie_variance_power", 1.5) if isinstance(oparam, dict) else 1.5,
                where)
    elif info.link == "sigmoid":
        p = base[0]
        if not 0.0 < p < 1.0:
            raise ModelFormatError(f"field 'base_score' {p} must be in (0, 1) for {objective}")
        init = [math.log(p / (1.0 - p))]
    elif info.link == "softmax":
        init = base * num_class if len(base) == 1 else base
    else:  # identity: a margin (binary:logitraw and the rankers too)
        init = base[:1]
    if len(init) != k:
        raise ModelFormatError(f"field 'base_score' has {len(init)} values for {k} outputs")

    names = learner.get("feature_names")
    if names is None:
        names = []
    if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
        raise ModelFormatError("field 'learner.feature_names' must be a list of strings")
    if names and len(names) != num_feature:
        raise ModelFormatError(
            f"field 'learner.feature_names' has {len(names)} names for {num_feature} features"
        )
    feature_names = list(names) or [f"f{i}" for i in range(num_feature)]
    types = learner.get("feature_types")
    if types is None:
        types = []
    if not isinstance(types, list) or not all(isinstance(v, str) for v in types):
        raise ModelFormatError("field 'learner.feature_types' must be a list of strings")

    tree_info = array(field(model, "tree_info", "learner.gradient_booster.model."), np.int64,
                      "tree_info")
    if len(trees) != tree_info.size:
        raise ModelFormatError("fields 'trees' and 'tree_info' differ in length")
    if tree_info.size and (tree_info.min() < 0 or tree_info.max() >= k):
        raise ModelFormatError(f"field 'tree_info' has an output index outside [0, {k})")
    order = _round_order(tree_info, k)

    mb = ModelBuilder(info.name, feature_names=feature_names, num_class=num_class if k > 1 else 1,
                      init_score=init)
    if types and len(types) == num_feature and "c" in types:
        mb.category_code_features = [f for f, t in zip(feature_names, types, strict=True)
                                     if t == "c"]
    for ti in order:
        mb.add_tree(_xgb_tree(trees[ti], ti, num_feature), where=f"trees[{ti}]")
    mb.params = {"objective": info.name, "source": f"xgboost:{objective}", **params}
    mb.provenance = imported(fmt, objective, source_version=_source_version(doc))
    return Booster.from_builder(mb)


def _round_order(tree_info: np.ndarray, k: int) -> list[int]:
    """The trees in sapwood's order: rounds of one tree per output. XGBoost lists multi-class
    trees round by round already; with several parallel trees per round (``num_parallel_tree``)
    each output's trees are regrouped into rounds, in their order (each output's sum is then
    taken in XGBoost's order)."""
    per_output = [np.flatnonzero(tree_info == j).tolist() for j in range(k)]
    counts = {len(p) for p in per_output}
    if len(counts) > 1:
        raise ModelFormatError(f"field 'tree_info' gives the {k} outputs different numbers of "
                               "trees")
    return [per_output[j][r] for r in range(counts.pop() if counts else 0) for j in range(k)]


def _xgb_tree(t: Any, ti: int, num_feature: int) -> dict[str, np.ndarray]:
    w = f"trees[{ti}]"
    left = array(field(t, "left_children", w + "."), np.int64, w + ".left_children")
    n = left.size
    if n == 0:
        raise ModelFormatError(f"field '{w}.left_children' is empty")

    def get(key: str, dtype: Any) -> np.ndarray:
        a = array(field(t, key, w + "."), dtype, f"{w}.{key}")
        if a.size != n:
            raise ModelFormatError(f"field '{w}.{key}' has {a.size} entries, expected {n}")
        return a

    right = get("right_children", np.int64)
    cond = get("split_conditions", np.float64)
    feat = get("split_indices", np.int64)
    dleft = get("default_left", np.int64)
    hess = get("sum_hessian", np.float64)
    gain = get("loss_changes", np.float64)
    stype = t.get("split_type")
    is_cat = np.zeros(n, dtype=bool)
    if stype is not None:
        st = array(stype, np.int64, f"{w}.split_type")
        if st.size != n:
            raise ModelFormatError(f"field '{w}.split_type' has {st.size} entries, expected {n}")
        if np.any((st != 0) & (st != 1)):
            raise ModelFormatError(f"field '{w}.split_type' has a value other than 0 "
                                   "(numeric) or 1 (categorical)")
        is_cat = (st == 1) & (left >= 0)
    is_leaf = left < 0
    if np.any((right < 0) != is_leaf):
        raise ModelFormatError(f"field '{w}.right_children': a node has exactly one child")
    bad = ~is_leaf & ((feat < 0) | (feat >= num_feature))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ModelFormatError(f"field '{w}.split_indices': node {i} splits on feature "
                               f"{int(feat[i])}, outside [0, {num_feature})")
    old, nl, nr = renumber(left, right, n, w)
    leaf = is_leaf[old]
    cat = is_cat[old]
    # x < c  <=>  x <= nextafter(c, -inf) for every float32 x.
    c32 = cond[old].astype(np.float32)
    thr = np.where(leaf | cat, np.float32(0), np.nextafter(c32, np.float32(-np.inf)))
    if np.any(~leaf & ~cat & ~np.isfinite(cond[old])):
        raise ModelFormatError(f"field '{w}.split_conditions' has a non-finite split value")
    dl = np.where(leaf, 0, dleft[old] != 0).astype(np.uint8)
    tree: dict[str, np.ndarray] = {
        "feature": np.where(leaf, -1, feat[old]).astype(np.int32),
        "threshold": thr.astype(np.float32),
        "threshold_bin": np.zeros(old.size, dtype=np.int32),
        "default_left": dl,
        "left": nl,
        "right": nr,
        "value": np.where(leaf, c32.astype(np.float64), 0.0),
        "gain": np.where(leaf, 0.0, gain[old]),
        "hess": hess[old].astype(np.float64),
        "count": np.zeros(old.size, dtype=np.int64),
    }
    if np.any(cat):
        tree.update(_xgb_categorical_splits(t, w, n, is_cat, old, tree))
    return tree


_XGB_MAX_CATEGORY = 1 << 24  # category codes are float32 values: exact integers up to here


def _xgb_categorical_splits(t: Any, w: str, n: int, is_cat: np.ndarray, old: np.ndarray,
                            tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """XGBoost's categorical splits as bitset splits (tree.hpp split_type 2).

    XGBoost sends a category in the node's set right, any other category (and a negative or
    too large one) left, and a missing value to its default side. Here a category in the bitset
    goes left and any other right, so each such node's children swap sides (and its default
    side with them); the category is the feature value truncated toward zero, as in XGBoost.
    """
    nodes = array(field(t, "categories_nodes", w + "."), np.int64, f"{w}.categories_nodes")
    segs = array(field(t, "categories_segments", w + "."), np.int64,
                  f"{w}.categories_segments")
    sizes = array(field(t, "categories_sizes", w + "."), np.int64, f"{w}.categories_sizes")
    cats = array(field(t, "categories", w + "."), np.int64, f"{w}.categories")
    if not nodes.size == segs.size == sizes.size:
        raise ModelFormatError(f"fields '{w}.categories_nodes/segments/sizes' differ in length")
    # compared without adding (segs + sizes near 2**62 would wrap to a negative sum)
    if np.any((segs < 0) | (sizes < 0) | (segs > cats.size) | (sizes > cats.size - segs)):
        raise ModelFormatError(f"field '{w}.categories_segments' points outside "
                               f"'{w}.categories'")
    if np.any((cats < 0) | (cats >= _XGB_MAX_CATEGORY)):
        raise ModelFormatError(f"field '{w}.categories' has a category outside "
                               f"[0, {_XGB_MAX_CATEGORY})")
    if np.any((nodes < 0) | (nodes >= n)) or len(set(nodes.tolist())) != nodes.size:
        raise ModelFormatError(f"field '{w}.categories_nodes' has a bad or repeated node")
    listed = np.zeros(n, dtype=bool)
    listed[nodes] = True
    if np.any(listed != is_cat):
        raise ModelFormatError(f"field '{w}.categories_nodes' does not list exactly the "
                               "categorical splits")
    where = {int(v): i for i, v in enumerate(nodes.tolist())}
    m = old.size
    split_type = np.zeros(m, np.uint8)
    cat_begin = np.zeros(m, np.int32)
    cat_size = np.zeros(m, np.int32)
    words: list[np.ndarray] = []
    used = 0
    left, right, dl = tree["left"].copy(), tree["right"].copy(), tree["default_left"].copy()
    for i in np.flatnonzero(is_cat[old]).tolist():
        j = where[int(old[i])]
        members = cats[segs[j]: segs[j] + sizes[j]]
        nw = int(members.max()) // 32 + 1 if members.size else 1
        bits = np.zeros(nw, np.uint32)
        np.bitwise_or.at(bits, members // 32, (np.uint32(1) << (members % 32).astype(np.uint32)))
        words.append(bits)
        split_type[i] = 2
        cat_begin[i] = used
        cat_size[i] = nw
        used += nw
        left[i], right[i] = right[i], left[i]
        dl[i] = 1 - dl[i]
    return {"left": left, "right": right, "default_left": dl, "split_type": split_type,
            "cat_begin": cat_begin, "cat_size": cat_size,
            "cat_bits": np.concatenate(words).astype(np.uint32)}


