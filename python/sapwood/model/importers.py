"""Import models trained by XGBoost (JSON / UBJSON) and LightGBM (text ``model.txt``).

``import_model(path_or_bytes)`` returns a :class:`sapwood.Booster` that scores the same values
as the source library (float32 feature comparisons, as both libraries do):

* XGBoost ``gbtree`` models with objective ``reg:squarederror`` (and the other identity-link
  regressions), ``binary:logistic`` / ``reg:logistic``, ``multi:softprob`` / ``multi:softmax``
  (sapwood returns class probabilities for both), ``count:poisson``, ``reg:gamma`` and
  ``reg:tweedie`` (log link: sapwood objectives "poisson", "gamma", "tweedie", value =
  exp(raw); the tweedie power is read from ``tweedie_regression_param.tweedie_variance_power``),
  and the objectives whose prediction is the raw margin, ``binary:logitraw`` and
  ``rank:pairwise`` / ``rank:ndcg`` / ``rank:map`` (imported as "regression", the identity
  link). XGBoost sends a row left when ``x < split_condition``; sapwood's test is
  ``x <= threshold``, so the threshold becomes the next float32 below the split condition,
  which is the same test on every float32 input. ``base_score`` is read as XGBoost stores it
  (a probability for the logistic objectives, a mean on the response scale for the log-link
  ones: margin = log(base_score), a margin otherwise; a scalar or, from XGBoost 3, a
  per-output vector). Categorical splits (partition and one-hot) become bitset splits; as in
  XGBoost, a categorical feature is read as category codes: a pandas category column's codes,
  or the numbers given (``booster.category_code_features``; Arrow dictionary and string
  columns raise DataError: their codes are not the training ones).
* LightGBM text models with objectives ``regression*``/``huber``/``fair``/``quantile``/``mape``
  and the ranking ``lambdarank`` / ``rank_xendcg`` (identity), ``binary`` / ``cross_entropy``
  (``xentropy``) (sigmoid), ``multiclass`` (softmax) and ``poisson`` / ``gamma`` / ``tweedie``
  (log link; LightGBM's raw scores already include the initial score; the tweedie power comes
  from the objective line or the parameters section). Missing types None / Zero / NaN,
  ``default_left``, zero-as-missing and categorical bitset splits are all reproduced; the
  ``pandas_categorical`` line is kept as ``booster.pandas_categorical``.

The imported Booster has no bin edges (it was not trained here); its trees carry the source's
cover (XGBoost ``sum_hessian``, LightGBM data counts) in ``hess``, so ``output="contrib"``
matches the source library's ``pred_contrib``. The source objective is kept as
``booster.params["source"]`` (e.g. ``"xgboost:rank:pairwise"``). Any other objective raises
:class:`ModelFormatError` naming the field.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import numpy as np

from ..errors import ModelFormatError
from .booster import Booster

__all__ = ["import_model"]

_UINT32 = 0xFFFFFFFF


def import_model(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> Booster:
    """Read an XGBoost (JSON/UBJSON) or LightGBM (text) model into a sapwood Booster.

    ``source`` is a path or the file's bytes. The format is recognised from the content.
    Raises :class:`sapwood.ModelFormatError` naming the field when the file is malformed or
    uses a feature that cannot be scored exactly.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            with open(os.fspath(source), "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ModelFormatError(f"cannot read model file {source!r}: {exc}") from exc
    head = data[:64].lstrip()
    if not head:
        raise ModelFormatError("model is empty")
    if head.startswith(b"tree") or b"\nTree=" in data[:100000] or head.startswith(b"version="):
        return _import_lightgbm(data)
    if head.startswith(b"{"):
        if len(head) > 1 and head[1:2] in (b'"', b" ", b"\n", b"\r", b"\t", b"}"):
            try:
                doc = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelFormatError(f"model is not valid JSON: {exc}") from exc
        else:
            doc = _UbjReader(data).read_document()
        return _import_xgboost(doc)
    raise ModelFormatError(
        "unrecognised model format (expected XGBoost JSON/UBJSON or a LightGBM text model)"
    )


# ---------------------------------------------------------------------------------- common
def _field(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ModelFormatError(f"field '{where}{key}' is missing")
    return d[key]


def _array(v: Any, dtype: Any, where: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelFormatError(f"field '{where}' is not a numeric array: {exc}") from None
    if a.ndim != 1:
        raise ModelFormatError(f"field '{where}' must be a 1-D array")
    return a


def _float32_le(thr: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 threshold: `x <= t` on float32 x, exactly."""
    t32 = thr.astype(np.float32)
    over = t32.astype(np.float64) > thr
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


def _renumber(
    left: np.ndarray, right: np.ndarray, n: int, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breadth-first order from the root: old index per new index, and the new child arrays.

    Guarantees children after parents and drops unreachable (deleted) nodes; raises on cycles,
    shared children or out-of-range indices.
    """
    order = [0]
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    head = 0
    while head < len(order):
        i = order[head]
        head += 1
        for c in (int(left[i]), int(right[i])):
            if c < 0:
                continue
            if c >= n:
                raise ModelFormatError(f"{where}: node {i} has child {c} out of range [0, {n})")
            if seen[c]:
                raise ModelFormatError(f"{where}: node {c} is reached twice (not a tree)")
            seen[c] = True
            order.append(c)
    old = np.asarray(order, dtype=np.int64)
    new_of = np.full(n, -1, dtype=np.int64)
    new_of[old] = np.arange(old.size)
    lo, ro = left[old], right[old]
    nl = np.where(lo >= 0, new_of[np.maximum(lo, 0)], -1).astype(np.int32)
    nr = np.where(ro >= 0, new_of[np.maximum(ro, 0)], -1).astype(np.int32)
    return old, nl, nr


def _finish(booster: Booster) -> Booster:
    booster._forest = None
    booster._get_forest()  # validate every index now, at import time
    return booster


# ---------------------------------------------------------------------------------- XGBoost
_XGB_IDENTITY = {
    "reg:squarederror", "reg:linear", "reg:absoluteerror", "reg:pseudohubererror",
    "reg:squaredlogerror",
}
# the prediction is the raw margin: imported with the identity link
_XGB_MARGIN = {"binary:logitraw", "rank:pairwise", "rank:ndcg", "rank:map"}
_XGB_LOGISTIC = {"binary:logistic", "reg:logistic"}
_XGB_SOFTMAX = {"multi:softprob", "multi:softmax"}
_XGB_LOG = {"count:poisson": "poisson", "reg:gamma": "gamma", "reg:tweedie": "tweedie"}


def _tweedie_power(raw: Any, where: str) -> float:
    try:
        p = float(raw)
    except (TypeError, ValueError):
        raise ModelFormatError(f"field '{where}' is not a number: {raw!r}") from None
    if not 1.0 < p < 2.0:
        # the power only matters for evaluation, but sapwood's tweedie objective needs (1, 2)
        raise ModelFormatError(f"field '{where}' is {p}; sapwood supports tweedie powers in "
                               "(1, 2)")
    return p


def _parse_base_score(raw: Any) -> list[float]:
    if isinstance(raw, (int, float)):
        return [float(raw)]
    s = str(raw).strip()
    try:
        if s.startswith("["):
            return [float(v) for v in s.strip("[]").split(",") if v.strip()]
        return [float(s)]
    except ValueError:
        raise ModelFormatError(
            f"field 'learner.learner_model_param.base_score' is not a number: {raw!r}"
        ) from None


def _import_xgboost(doc: Any) -> Booster:
    learner = _field(doc, "learner", "")
    gb = _field(learner, "gradient_booster", "learner.")
    name = _field(gb, "name", "learner.gradient_booster.")
    if name != "gbtree":
        raise ModelFormatError(
            f"field 'learner.gradient_booster.name' is {name!r}; only 'gbtree' models import"
        )
    model = _field(gb, "model", "learner.gradient_booster.")
    mparam = _field(learner, "learner_model_param", "learner.")
    objective = _field(_field(learner, "objective", "learner."), "name", "learner.objective.")
    try:
        num_feature = int(_field(mparam, "num_feature", "learner.learner_model_param."))
        num_class = int(mparam.get("num_class", 0))
        num_target = int(mparam.get("num_target", 1))
    except (TypeError, ValueError):
        raise ModelFormatError("field 'learner.learner_model_param' has a non-integer count") \
            from None
    if num_target > 1:
        raise ModelFormatError("field 'learner.learner_model_param.num_target' > 1 "
                               "(multi-target models) is not supported")
    base = _parse_base_score(_field(mparam, "base_score", "learner.learner_model_param."))
    booster = Booster()
    extra: dict[str, Any] = {}
    if objective in _XGB_IDENTITY:
        booster.objective, k = "regression", 1
        init = base[:1]
    elif objective in _XGB_MARGIN:
        booster.objective, k = "regression", 1
        init = base[:1]  # a margin (binary:logitraw too: its link is the identity)
    elif objective in _XGB_LOG:
        booster.objective, k = _XGB_LOG[objective], 1
        mean = base[0]
        if not mean > 0.0:  # stored on the response scale: margin = log(base_score)
            raise ModelFormatError(f"field 'base_score' {mean} must be > 0 for {objective}")
        init = [math.log(mean)]
        if objective == "reg:tweedie":
            oparam = learner["objective"].get("tweedie_regression_param", {})
            where = "learner.objective.tweedie_regression_param.tweedie_variance_power"
            extra["tweedie_variance_power"] = _tweedie_power(
                oparam.get("tweedie_variance_power", 1.5) if isinstance(oparam, dict) else 1.5,
                where)
    elif objective in _XGB_LOGISTIC:
        booster.objective, k = "binary", 1
        p = base[0]
        if not 0.0 < p < 1.0:
            raise ModelFormatError(f"field 'base_score' {p} must be in (0, 1) for {objective}")
        init = [math.log(p / (1.0 - p))]
    elif objective in _XGB_SOFTMAX:
        if num_class < 2:
            raise ModelFormatError("field 'learner.learner_model_param.num_class' must be >= 2")
        booster.objective, k = "multiclass", num_class
        init = base * num_class if len(base) == 1 else base
    else:
        raise ModelFormatError(
            f"field 'learner.objective.name' is {objective!r}, which is not supported "
            "(reg:squarederror, binary:logistic, multi:softprob/softmax, count:poisson, "
            "reg:gamma, reg:tweedie, binary:logitraw, rank:* and relatives are)"
        )
    if len(init) != k:
        raise ModelFormatError(f"field 'base_score' has {len(init)} values for {k} outputs")
    booster.num_class = num_class if k > 1 else 1
    booster.init_score = np.asarray(init, dtype=np.float64)
    names = learner.get("feature_names") or []
    if names and len(names) != num_feature:
        raise ModelFormatError(
            f"field 'learner.feature_names' has {len(names)} names for {num_feature} features"
        )
    booster.feature_names = [str(v) for v in names] or [f"f{i}" for i in range(num_feature)]
    types = learner.get("feature_types") or []
    if types and len(types) == num_feature and "c" in types:
        booster.category_code_features = [f for f, t in zip(booster.feature_names, types,
                                                               strict=True) if t == "c"]
    trees = _field(model, "trees", "learner.gradient_booster.model.")
    info = _array(_field(model, "tree_info", "learner.gradient_booster.model."), np.int64,
                  "tree_info")
    if not isinstance(trees, list) or len(trees) != info.size:
        raise ModelFormatError("fields 'trees' and 'tree_info' differ in length")
    if info.size and (info.min() < 0 or info.max() >= k):
        raise ModelFormatError(f"field 'tree_info' has an output index outside [0, {k})")
    out_trees: list[dict[str, np.ndarray]] = []
    for ti, t in enumerate(trees):
        out_trees.append(_xgb_tree(t, ti, num_feature))
    # sapwood's rounds are K consecutive trees, one per output: XGBoost orders them the same
    # way for multi-class; keep the source's output index per tree in any case.
    booster._trees = out_trees
    booster._tree_output = [int(v) for v in info]
    booster.params = {"objective": booster.objective, "source": f"xgboost:{objective}",
                      **extra}
    return _finish(booster)


def _xgb_tree(t: Any, ti: int, num_feature: int) -> dict[str, np.ndarray]:
    w = f"trees[{ti}]"
    left = _array(_field(t, "left_children", w + "."), np.int64, w + ".left_children")
    n = left.size
    if n == 0:
        raise ModelFormatError(f"field '{w}.left_children' is empty")

    def get(key: str, dtype: Any) -> np.ndarray:
        a = _array(_field(t, key, w + "."), dtype, f"{w}.{key}")
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
        st = _array(stype, np.int64, f"{w}.split_type")
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
    old, nl, nr = _renumber(left, right, n, w)
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
    nodes = _array(_field(t, "categories_nodes", w + "."), np.int64, f"{w}.categories_nodes")
    segs = _array(_field(t, "categories_segments", w + "."), np.int64,
                  f"{w}.categories_segments")
    sizes = _array(_field(t, "categories_sizes", w + "."), np.int64, f"{w}.categories_sizes")
    cats = _array(_field(t, "categories", w + "."), np.int64, f"{w}.categories")
    if not nodes.size == segs.size == sizes.size:
        raise ModelFormatError(f"fields '{w}.categories_nodes/segments/sizes' differ in length")
    if np.any((segs < 0) | (sizes < 0) | (segs + sizes > cats.size)):
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


class _UbjReader:
    """A small UBJSON decoder for XGBoost's .ubj files (typed arrays become numpy arrays)."""

    _NUM = {
        b"i": (">i1", 1), b"U": (">u1", 1), b"I": (">i2", 2), b"l": (">i4", 4),
        b"L": (">i8", 8), b"d": (">f4", 4), b"D": (">f8", 8),
    }

    def __init__(self, data: bytes) -> None:
        self.b = data
        self.p = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.p + n > len(self.b):
            raise ModelFormatError(f"UBJSON model is truncated at byte {self.p}")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def _marker(self) -> bytes:
        m = self._take(1)
        while m == b"N":  # no-op
            m = self._take(1)
        return m

    def _number(self, m: bytes) -> Any:
        fmt, size = self._NUM[m]
        v = np.frombuffer(self._take(size), dtype=fmt)[0]
        return float(v) if m in (b"d", b"D") else int(v)

    def _count(self) -> int:
        m = self._marker()
        if m not in self._NUM or m in (b"d", b"D"):
            raise ModelFormatError(f"UBJSON: bad length marker {m!r} at byte {self.p - 1}")
        n = int(self._number(m))
        if n < 0 or n > len(self.b):
            raise ModelFormatError(f"UBJSON: implausible length {n} at byte {self.p}")
        return n

    def _string(self) -> str:
        n = self._count()
        try:
            return self._take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise ModelFormatError(f"UBJSON: string at byte {self.p - n} is not UTF-8") from None

    def read_document(self) -> Any:
        v = self._value(self._marker(), 0)
        return v

    def _value(self, m: bytes, depth: int) -> Any:
        if depth > 64:
            raise ModelFormatError("UBJSON: nesting deeper than 64 levels")
        if m in self._NUM:
            return self._number(m)
        if m == b"S" or m == b"H":
            return self._string()
        if m == b"C":
            return self._take(1).decode("latin-1")
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m == b"Z":
            return None
        if m == b"[":
            return self._container(depth, array=True)
        if m == b"{":
            return self._container(depth, array=False)
        raise ModelFormatError(f"UBJSON: unknown type marker {m!r} at byte {self.p - 1}")

    def _container(self, depth: int, *, array: bool) -> Any:
        typ: bytes | None = None
        count: int | None = None
        m = self._marker()
        if m == b"$":
            typ = self._take(1)
            m = self._marker()
            if m != b"#":
                raise ModelFormatError(f"UBJSON: '$' without '#' at byte {self.p - 1}")
        if m == b"#":
            count = self._count()
            m = b""
        if array:
            if typ is not None and typ in self._NUM and count is not None:
                fmt, size = self._NUM[typ]
                return np.frombuffer(self._take(count * size), dtype=fmt).astype(
                    fmt.replace(">", "=")
                )
            out: list[Any] = []
            if count is not None:
                for _ in range(count):
                    out.append(self._value(typ if typ is not None else self._marker(), depth + 1))
                return out
            while m != b"]":
                out.append(self._value(m, depth + 1))
                m = self._marker()
            return out
        obj: dict[str, Any] = {}
        if count is not None:
            for _ in range(count):
                key = self._string()
                obj[key] = self._value(typ if typ is not None else self._marker(), depth + 1)
            return obj
        while m != b"}":
            # the key's length marker is m itself
            self.p -= 1
            key = self._string()
            obj[key] = self._value(self._marker(), depth + 1)
            m = self._marker()
        return obj


# ---------------------------------------------------------------------------------- LightGBM
_LGB_IDENTITY = {
    "regression", "regression_l2", "l2", "mean_squared_error", "mse", "regression_l1", "l1",
    "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape",
    # ranking: the prediction is the raw score
    "lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart",
}
_LGB_LOG = {"poisson": "poisson", "gamma": "gamma", "tweedie": "tweedie"}


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


def _import_lightgbm(data: bytes) -> Booster:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFormatError("LightGBM model text is not UTF-8") from None
    header, trees, pandas_cat = _lgb_sections(text)
    if "average_output" in text.split("\nTree=", 1)[0]:
        raise ModelFormatError("field 'average_output': random-forest LightGBM models are "
                               "not supported")
    try:
        num_class = int(header.get("num_class", "1"))
        per_iter = int(header.get("num_tree_per_iteration", str(num_class)))
        max_feature_idx = int(_field(header, "max_feature_idx", ""))
    except ValueError:
        raise ModelFormatError("field 'num_class'/'max_feature_idx' is not an integer") from None
    obj_line = header.get("objective", "regression").split()
    obj = obj_line[0] if obj_line else "regression"
    opts = dict(o.split(":", 1) for o in obj_line[1:] if ":" in o)
    booster = Booster()
    extra: dict[str, Any] = {}
    if obj in _LGB_IDENTITY:
        booster.objective, k = "regression", 1
    elif obj in ("binary", "cross_entropy", "xentropy"):
        if float(opts.get("sigmoid", "1")) != 1.0:
            raise ModelFormatError(f"field 'objective': sigmoid:{opts['sigmoid']} is not "
                                   "supported (only sigmoid:1)")
        booster.objective, k = "binary", 1
    elif obj in ("multiclass", "softmax"):
        booster.objective, k = "multiclass", num_class
    elif obj in _LGB_LOG:
        booster.objective, k = _LGB_LOG[obj], 1
        if obj == "tweedie":
            # the objective line carries the power in some LightGBM versions; the parameters
            # section ("[tweedie_variance_power: 1.3]") in others
            power = opts.get("tweedie_variance_power")
            where = "objective.tweedie_variance_power"
            if power is None:
                found = re.search(r"^\[tweedie_variance_power: *([^\]]*)\]", text, re.M)
                power, where = (found.group(1), "parameters.tweedie_variance_power") if found \
                    else ("1.5", where)
            extra["tweedie_variance_power"] = _tweedie_power(power, where)
    else:
        raise ModelFormatError(
            f"field 'objective' is {obj!r}, which is not supported (regression, binary, "
            "multiclass, poisson, gamma, tweedie and ranking objectives are)"
        )
    if per_iter != k:
        raise ModelFormatError(f"field 'num_tree_per_iteration' is {per_iter}, expected {k}")
    nfeat = max_feature_idx + 1
    if nfeat < 1:
        raise ModelFormatError("field 'max_feature_idx' must be >= 0")
    names = header.get("feature_names", "").split()
    if names and len(names) != nfeat:
        raise ModelFormatError(f"field 'feature_names' has {len(names)} names for {nfeat} "
                               "features")
    booster.num_class = num_class if k > 1 else 1
    booster.init_score = np.zeros(k, dtype=np.float64)  # LightGBM folds it into the trees
    booster.feature_names = names or [f"Column_{i}" for i in range(nfeat)]
    booster._trees = [_lgb_tree(t, i, nfeat) for i, t in enumerate(trees)]
    booster._tree_output = [i % k for i in range(len(trees))]
    booster.params = {"objective": booster.objective, "source": f"lightgbm:{obj}", **extra}
    if pandas_cat is not None:
        try:
            booster.pandas_categorical = json.loads(pandas_cat)
        except json.JSONDecodeError:
            raise ModelFormatError("field 'pandas_categorical' is not valid JSON") from None
        if booster.pandas_categorical is not None:
            cat_idx = _lgb_categorical_indices(header, nfeat)
            if cat_idx is not None and len(cat_idx) == len(booster.pandas_categorical):
                booster.pandas_categorical_features = [booster.feature_names[i]
                                                       for i in cat_idx]
    return _finish(booster)


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
        num_leaves = int(_field(t, "num_leaves", w + "."))
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
    old, nl, nr = _renumber(L, R, n, w)
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
    thr32 = _float32_le(np.where(cat, 0.0, t_int))
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

