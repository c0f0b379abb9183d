"""Import LightGBM text models (``model.txt``).

The objective is read through the registry (``sapwood.objectives``: each objective lists the
LightGBM names that score with its link: the regressions and rankers as identity, binary and
cross-entropy as sigmoid, multiclass as softmax, poisson / gamma / tweedie as exp; LightGBM's
raw scores already include the initial score). Missing types None / Zero / NaN,
``default_left``, zero-as-missing and categorical bitset splits are all reproduced; the
``pandas_categorical`` line is kept as ``booster.pandas_categorical`` (its lists are checked:
one list of category values per categorical feature). Trees carry LightGBM's data counts as
cover.

May import: ``errors``, ``objectives``, ``model.booster``, ``model.builder``,
``model.provenance`` and the importers' ``_common``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from ... import objectives as _objectives
from ...errors import ModelFormatError
from ..booster import Booster
from ..builder import ModelBuilder
from ..provenance import imported
from ._common import count, field, float32_le, foreign_errors, max_declared, renumber, tweedie_power

__all__ = ["import_lightgbm"]

_UINT32 = 0xFFFFFFFF


def import_lightgbm(data: bytes) -> Booster:
    """A Booster from a LightGBM text model's bytes."""
    with foreign_errors("LightGBM text"):
        return _import(data)


def _lgb_sections(text: str) -> tuple[dict[str, str], list[dict[str, str]], str | None]:
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    pandas_cat: str | None = None
    cur: dict[str, str] = header
    in_params = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("pandas_categorical:"):
            pandas_cat = line[len("pandas_categorical:"):]
            continue
        if line == "parameters:":
            in_params = True
            continue
        if line == "end of parameters":
            in_params = False
            continue
        if in_params:
            if line.startswith("[categorical_feature:"):
                header["[categorical_feature]"] = line[len("[categorical_feature:"):-1].strip()
            continue
        if line == "end of trees" or line.startswith("feature_importances:"):
            cur = {}
            continue
        if line.startswith("Tree="):
            cur = {"Tree": line[5:]}
            trees.append(cur)
            continue
        if "=" in line:
            key, _, val = line.partition("=")
            cur[key] = val
    return header, trees, pandas_cat


def _import(data: bytes) -> Booster:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError("LightGBM model text is not UTF-8") from None
    header, trees, pandas_cat = _lgb_sections(text)
    if "average_output" in text.split("\nTree=", 1)[0]:
        raise ModelFormatError("field 'average_output': random-forest LightGBM models are "
                               "not supported")
    # Declared sizes are checked against the file before anything is allocated for them.
    limit = max_declared(len(data))
    max_feature_idx = count(field(header, "max_feature_idx", ""), "max_feature_idx", 0,
                            limit - 1)
    num_class = count(header.get("num_class", "1"), "num_class", 1, limit)
    per_iter = count(header.get("num_tree_per_iteration", str(num_class)),
                     "num_tree_per_iteration", 1, limit)
    obj_line = header.get("objective", "regression").split()
    obj = obj_line[0] if obj_line else "regression"
    opts = dict(o.split(":", 1) for o in obj_line[1:] if ":" in o)
    info = _objectives.from_lightgbm(obj)
    if info is None:
        supported = ", ".join(n for o in _objectives.REGISTRY for n in o.lightgbm)
        raise ModelFormatError(f"field 'objective' is {obj!r}, which is not supported "
                               f"({supported} are)")
    params: dict[str, Any] = {}
    if info.link == "sigmoid" and "sigmoid" in opts:
        try:
            sigmoid = float(opts["sigmoid"])
        except ValueError:
            raise ModelFormatError(f"field 'objective': sigmoid:{opts['sigmoid']} is not a "
                                   "number") from None
        if sigmoid != 1.0:
            raise ModelFormatError(f"field 'objective': sigmoid:{opts['sigmoid']} is not "
                                   "supported (only sigmoid:1)")
    if info.name == "tweedie":
        # the objective line carries the power in some LightGBM versions; the parameters
        # section ("[tweedie_variance_power: 1.3]") in others
        power: str | None = opts.get("tweedie_variance_power")
        where = "objective.tweedie_variance_power"
        if power is None:
            found = re.search(r"^\[tweedie_variance_power: *([^\]]*)\]", text, re.M)
            power, where = (found.group(1), "parameters.tweedie_variance_power") if found \
                else ("1.5", where)
        params["tweedie_variance_power"] = tweedie_power(power, where)
    if info.multi_output and num_class < 2:
        raise ModelFormatError(f"field 'num_class' is {num_class}; objective {obj} needs >= 2")
    k = info.num_outputs(num_class)
    if per_iter != k:
        raise ModelFormatError(f"field 'num_tree_per_iteration' is {per_iter}, expected {k}")
    if k > 1 and len(trees) < k:
        raise ModelFormatError(f"field 'num_class' is {num_class} but the model holds only "
                               f"{len(trees)} trees")
    if len(trees) % k:
        raise ModelFormatError(f"the model holds {len(trees)} trees, not a multiple of the "
                               f"{k} classes")
    nfeat = max_feature_idx + 1
    names = header.get("feature_names", "").split()
    if names and len(names) != nfeat:
        raise ModelFormatError(f"field 'feature_names' has {len(names)} names for {nfeat} "
                               "features")
    feature_names = names or [f"Column_{i}" for i in range(nfeat)]
    mb = ModelBuilder(info.name, feature_names=feature_names, num_class=num_class if k > 1 else 1,
                      init_score=np.zeros(k))  # LightGBM folds the initial score into the trees
    for i, t in enumerate(trees):
        mb.add_tree(_lgb_tree(t, i, nfeat), where=f"Tree={i}")
    mb.params = {"objective": info.name, "source": f"lightgbm:{obj}", **params}
    version = header.get("version")
    mb.provenance = imported("lightgbm-text", obj,
                             source_version=f"LightGBM {version}" if version else None)
    if pandas_cat is not None:
        try:
            pc = json.loads(pandas_cat)
        except (json.JSONDecodeError, RecursionError):
            raise ModelFormatError("field 'pandas_categorical' is not valid JSON") from None
        if pc is not None:
            if not isinstance(pc, list) or not all(isinstance(c, list) for c in pc):
                raise ModelFormatError("field 'pandas_categorical' must be null or a list of "
                                       f"lists of categories, got {pandas_cat.strip()[:60]!r}")
            mb.pandas_categorical = pc
            cat_idx = _lgb_categorical_indices(header, nfeat)
            if cat_idx is not None and len(cat_idx) == len(pc):
                mb.pandas_categorical_features = [feature_names[i] for i in cat_idx]
    return Booster.from_builder(mb)


def _lgb_categorical_indices(header: dict[str, str], nfeat: int) -> list[int] | None:
    """The categorical features' indices, in column order: from the training parameters, else
    from ``feature_infos`` (a categorical feature lists its categories, a numeric one its
    [min:max] range). None when neither says."""
    raw = header.get("[categorical_feature]")
    if raw is not None:
        try:
            idx = sorted({int(v) for v in raw.replace(",", " ").split()})
        except ValueError:
            idx = []
        if idx and all(0 <= i < nfeat for i in idx):
            return idx
    infos = header.get("feature_infos", "").split()
    if len(infos) != nfeat:
        return None
    return [i for i, v in enumerate(infos) if v != "none" and not v.startswith("[")]


def _lgb_tree(t: dict[str, str], ti: int, nfeat: int) -> dict[str, np.ndarray]:
    w = f"Tree={ti}"

    def get(key: str, dtype: Any, n: int | None) -> np.ndarray:
        if key not in t:
            raise ModelFormatError(f"field '{w}.{key}' is missing")
        try:
            a = np.asarray([float(v) for v in t[key].split()], dtype=np.float64)
        except ValueError:
            raise ModelFormatError(f"field '{w}.{key}' has a non-numeric entry") from None
        if n is not None and a.size != n:
            raise ModelFormatError(f"field '{w}.{key}' has {a.size} entries, expected {n}")
        if dtype is not np.float64:
            if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                raise ModelFormatError(f"field '{w}.{key}' must hold integers")
            return a.astype(dtype)
        return a

    try:
        num_leaves = int(field(t, "num_leaves", w + "."))
        num_cat = int(t.get("num_cat", "0"))
    except ValueError:
        raise ModelFormatError(f"field '{w}.num_leaves' is not an integer") from None
    if t.get("is_linear", "0") not in ("0", ""):
        raise ModelFormatError(f"field '{w}.is_linear': linear trees are not supported")
    if num_leaves < 1:
        raise ModelFormatError(f"field '{w}.num_leaves' must be >= 1")
    leaf_value = get("leaf_value", np.float64, num_leaves)
    if num_leaves == 1:
        lc = get("leaf_count", np.int64, 1) if "leaf_count" in t else np.zeros(1, np.int64)
        return {
            "feature": np.array([-1], np.int32), "threshold": np.zeros(1, np.float32),
            "threshold_bin": np.zeros(1, np.int32), "default_left": np.zeros(1, np.uint8),
            "left": np.array([-1], np.int32), "right": np.array([-1], np.int32),
            "value": leaf_value, "gain": np.zeros(1), "hess": lc.astype(np.float64),
            "count": lc.astype(np.int64),
        }
    ni = num_leaves - 1
    feat = get("split_feature", np.int64, ni)
    thr = get("threshold", np.float64, ni)
    dtype = get("decision_type", np.int64, ni)
    lch = get("left_child", np.int64, ni)
    rch = get("right_child", np.int64, ni)
    gain = get("split_gain", np.float64, ni) if "split_gain" in t else np.zeros(ni)
    icount = get("internal_count", np.int64, ni) if "internal_count" in t else np.zeros(ni)
    lcount = get("leaf_count", np.int64, num_leaves) if "leaf_count" in t else \
        np.zeros(num_leaves)
    if np.any((feat < 0) | (feat >= nfeat)):
        raise ModelFormatError(f"field '{w}.split_feature' has a feature outside [0, {nfeat})")
    # Unified node ids: internal i -> i, leaf j -> ni + j.
    n = ni + num_leaves
    for name, ch in (("left_child", lch), ("right_child", rch)):
        bad = (ch >= ni) | (ch < -num_leaves)
        if np.any(bad):
            raise ModelFormatError(f"field '{w}.{name}' has an index out of range")
    L = np.full(n, -1, np.int64)
    R = np.full(n, -1, np.int64)
    L[:ni] = np.where(lch >= 0, lch, ni + ~lch)
    R[:ni] = np.where(rch >= 0, rch, ni + ~rch)
    old, nl, nr = renumber(L, R, n, w)
    if old.size != n:
        raise ModelFormatError(f"{w}: {n - old.size} node(s) are not reachable from the root")
    is_int = old < ni
    oi = np.where(is_int, old, 0)
    oleaf = np.where(is_int, 0, old - ni)
    dt = dtype[oi]
    cat = ((dt & 1) != 0) & is_int
    dleft = (dt & 2) != 0
    missing = (dt >> 2) & 3
    t_int = thr[oi]
    thr32 = float32_le(np.where(cat, 0.0, t_int))
    # LightGBM reads every |x| <= kZeroThreshold (1e-35f) as exactly 0.0 before scoring, so a
    # threshold inside that band splits the band as 0.0 would go.
    kz = float(np.float32(1e-35))
    thr32 = np.where((t_int >= -kz) & (t_int < 0), np.nextafter(np.float32(-kz), np.float32(-1)),
                     thr32)
    thr32 = np.where((t_int >= 0) & (t_int < kz), np.float32(kz), thr32).astype(np.float32)
    # Missing type None: NaN is scored as 0.0, so it goes where 0.0 goes.
    dl = np.where(missing == 0, 0.0 <= t_int, dleft)
    dl = np.where(cat, False, dl)  # categorical: NaN goes right
    split_type = np.where(cat, 2, np.where(missing == 1, 1, 0)).astype(np.uint8)
    split_type[~is_int] = 0
    cat_begin = np.zeros(n, np.int32)
    cat_size = np.zeros(n, np.int32)
    cat_bits = np.zeros(0, np.uint32)
    if num_cat > 0 or np.any(cat):
        bounds = get("cat_boundaries", np.int64, num_cat + 1)
        words = get("cat_threshold", np.int64, None)
        if np.any(np.diff(bounds) < 0) or bounds[0] != 0 or bounds[-1] != words.size:
            raise ModelFormatError(f"field '{w}.cat_boundaries' is inconsistent")
        if np.any((words < 0) | (words > _UINT32)):
            raise ModelFormatError(f"field '{w}.cat_threshold' has a word outside uint32")
        cidx = t_int[cat].astype(np.int64)
        if np.any((cidx < 0) | (cidx >= num_cat) | (t_int[cat] != cidx)):
            raise ModelFormatError(f"field '{w}.threshold' has a bad categorical index")
        cat_begin[cat] = bounds[cidx]
        cat_size[cat] = bounds[cidx + 1] - bounds[cidx]
        cat_bits = words.astype(np.uint32)
    cover = np.where(is_int, icount[oi], lcount[oleaf]).astype(np.float64)
    tree: dict[str, np.ndarray] = {
        "feature": np.where(is_int, feat[oi], -1).astype(np.int32),
        "threshold": np.where(is_int & ~cat, thr32, np.float32(0)).astype(np.float32),
        "threshold_bin": np.zeros(n, np.int32),
        "default_left": (dl & is_int).astype(np.uint8),
        "left": nl,
        "right": nr,
        "value": np.where(is_int, 0.0, leaf_value[oleaf]),
        "gain": np.where(is_int, gain[oi], 0.0),
        "hess": cover,
        "count": cover.astype(np.int64),
    }
    if np.any(split_type != 0):
        tree.update(split_type=split_type, cat_begin=cat_begin, cat_size=cat_size,
                    cat_bits=cat_bits)
    return tree

