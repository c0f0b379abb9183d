"""The objective registry: everything sapwood knows about each built-in objective, in one place.

Each :class:`ObjectiveInfo` says the objective's canonical name, the aliases ``train`` accepts,
its link (how a raw margin becomes a prediction), its default metric, the training parameters
it reads, how it checks labels (naming the first bad row), and how XGBoost, LightGBM and ONNX
name it. Parameter resolution (``_params``), the model file reader, the importers, the GPU
path, the metrics and the C++ core (``cpp/src/objective.cpp``, which parses only canonical
names) all read it. Adding an objective is one entry here plus its gradient in C++.

Foreign names: the first name in ``xgboost`` / ``lightgbm`` is the exact equivalent (what an
exporter writes); the others are foreign objectives whose models *score* the same way (same
link), which the importers read as this objective (e.g. XGBoost ``binary:logitraw`` scores the
raw margin, so it imports as ``regression``; ``rank:pairwise`` as ``lambdarank``).

May import: ``errors`` and numpy only (everything else imports this module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import DataError, ParameterError

__all__ = [
    "ObjectiveInfo",
    "Link",
    "REGISTRY",
    "names",
    "get",
    "resolve",
    "from_xgboost",
    "from_lightgbm",
    "link_transform",
]

# "sort": multi-quantile (quantile with a list of levels): the K outputs of a row sorted
# ascending, the rearrangement that keeps predicted quantiles from crossing (see
# ObjectiveInfo.link_for and cpp/include/sapwood/objective.hpp).
Link = Literal["identity", "sigmoid", "softmax", "exp", "sort"]

# The CUDA predictor's transform codes (cpp/src/cuda): one per link.
_LINK_CODES: dict[str, int] = {"identity": 0, "sigmoid": 1, "softmax": 2, "exp": 3, "sort": 4}


def _first_bad(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _check_finite(y: np.ndarray) -> None:
    i = _first_bad(~np.isfinite(y))
    if i is not None:
        raise DataError(f"label at row {i} is not finite ({y[i]})")


def _labels_any(y: np.ndarray, num_class: int) -> None:
    _check_finite(y)


def _labels_binary(y: np.ndarray, num_class: int) -> None:
    _check_finite(y)
    i = _first_bad((y != 0) & (y != 1))
    if i is not None:
        raise DataError(f"binary objective needs labels in {{0, 1}}; row {i} has {y[i]}")


def _labels_multiclass(y: np.ndarray, num_class: int) -> None:
    _check_finite(y)
    i = _first_bad((y < 0) | (y >= num_class) | (y != np.floor(y)))
    if i is not None:
        raise DataError(f"multiclass objective needs integer labels in [0, {num_class}); "
                        f"row {i} has {y[i]}")


def _labels_nonnegative(name: str) -> Callable[[np.ndarray, int], None]:
    def check(y: np.ndarray, num_class: int) -> None:
        _check_finite(y)
        i = _first_bad(y < 0)
        if i is not None:
            raise DataError(f"{name} objective needs labels >= 0; row {i} has {y[i]}")
    return check


def _labels_relevance(y: np.ndarray, num_class: int) -> None:
    _check_finite(y)
    i = _first_bad((y < 0) | (y != np.floor(y)))
    if i is not None:
        raise DataError(f"ranking objectives need integer relevance labels >= 0 (0 = not "
                        f"relevant); row {i} has {y[i]}")


def _labels_survival(y: np.ndarray, num_class: int) -> None:
    _check_finite(y)
    i = _first_bad(y == 0)
    if i is not None:
        raise DataError(f"cox objective needs non-zero labels (the survival time; negative for "
                        f"a censored row); row {i} has 0")
    if y.size and not (y > 0).any():
        raise DataError("cox objective needs at least one event (a positive label); every row "
                        "is censored (negative)")


def _labels_positive(name: str) -> Callable[[np.ndarray, int], None]:
    def check(y: np.ndarray, num_class: int) -> None:
        _check_finite(y)
        i = _first_bad(~(y > 0))
        if i is not None:
            raise DataError(f"{name} objective needs labels > 0; row {i} has {y[i]}")
    return check


@dataclass(frozen=True)
class ObjectiveInfo:
    """One built-in objective.

    name: the canonical name (what a Booster and its model file store, what C++ parses).
    aliases: other names ``train`` accepts for it.
    link: "identity", "sigmoid", "softmax" or "exp" (value = link(raw margin)).
    default_metric: the metric ``train`` evaluates when none is given.
    params: the training parameters the loss reads (besides the common ones).
    multi_output: one output per class (``num_class`` outputs), else one output.
    multi_level: a list-valued parameter (quantile's ``alpha``) gives one output per level
    (``num_class`` holds their count; 1 for a single level); with several, predictions are
    the outputs sorted per row (link "sort": quantiles that never cross).
    any_outputs: ``num_class`` outputs, any count from 1 (a custom loss: the caller's callable
    gives the gradients of every output).
    xgboost / lightgbm: the names those libraries use (first: the exact equivalent; the rest:
    foreign objectives scored with this link, read as this objective on import).
    onnx_post_transform: ONNX TreeEnsemble ``post_transform`` for the link, or None where ONNX
    has none (exp: an exporter appends an Exp node).
    """

    name: str
    aliases: tuple[str, ...]
    link: Link
    default_metric: str
    label_rule: str
    check: Callable[[np.ndarray, int], None]
    params: tuple[str, ...] = ()
    multi_output: bool = False
    multi_level: bool = False
    any_outputs: bool = False
    xgboost: tuple[str, ...] = ()
    lightgbm: tuple[str, ...] = ()
    onnx_post_transform: str | None = None

    def check_labels(self, y: np.ndarray, num_class: int = 1) -> None:
        """Raise DataError naming the first row whose label this objective cannot use."""
        self.check(np.asarray(y, dtype=np.float64).reshape(-1), num_class)

    def num_outputs(self, num_class: int) -> int:
        if self.multi_output:
            return num_class
        return max(1, num_class) if self.multi_level or self.any_outputs else 1

    def link_for(self, num_class: int) -> Link:
        """The link of a model with ``num_class`` (multi-level objectives with several
        levels: "sort", each row's outputs in ascending order)."""
        return "sort" if self.multi_level and num_class > 1 else self.link

    @property
    def transform_code(self) -> int:
        """The CUDA predictor's code for this objective's link (one output per level)."""
        return _LINK_CODES[self.link]

    def transform_code_for(self, num_class: int) -> int:
        """The CUDA predictor's code for a model with ``num_class`` (see :meth:`link_for`)."""
        return _LINK_CODES[self.link_for(num_class)]


REGISTRY: tuple[ObjectiveInfo, ...] = (
    ObjectiveInfo(
        # a Python callable's loss (train(params={"objective": fn})): the model predicts the
        # raw margin (num_class of them per row); no other library names it
        name="custom",
        aliases=(),
        link="identity", default_metric="rmse", label_rule="finite",
        check=_labels_any, any_outputs=True,
        onnx_post_transform="NONE",
    ),
    ObjectiveInfo(
        name="regression",
        aliases=("l2", "mse", "regression_l2", "squared_error", "reg:squarederror"),
        link="identity", default_metric="rmse", label_rule="finite",
        check=_labels_any,
        xgboost=("reg:squarederror", "reg:linear", "reg:squaredlogerror",
                 # the prediction is the raw margin
                 "binary:logitraw"),
        lightgbm=("regression", "regression_l2", "l2", "mean_squared_error", "mse", "fair",
                  "mape"),
        onnx_post_transform="NONE",
    ),
    ObjectiveInfo(
        name="binary",
        aliases=("binary:logistic",),
        link="sigmoid", default_metric="logloss", label_rule="0 or 1",
        check=_labels_binary,
        xgboost=("binary:logistic", "reg:logistic"),
        lightgbm=("binary", "cross_entropy", "xentropy"),
        onnx_post_transform="LOGISTIC",
    ),
    ObjectiveInfo(
        name="multiclass",
        aliases=("softmax", "multi:softprob"),
        link="softmax", default_metric="multi_logloss", label_rule="integer in [0, num_class)",
        check=_labels_multiclass, params=("num_class",), multi_output=True,
        xgboost=("multi:softprob", "multi:softmax"),
        lightgbm=("multiclass", "softmax"),
        onnx_post_transform="SOFTMAX",
    ),
    ObjectiveInfo(
        name="poisson",
        aliases=("count:poisson", "regression_poisson"),
        link="exp", default_metric="poisson_deviance", label_rule=">= 0",
        check=_labels_nonnegative("poisson"), params=("poisson_max_delta_step",),
        xgboost=("count:poisson",), lightgbm=("poisson",),
    ),
    ObjectiveInfo(
        name="gamma",
        aliases=("reg:gamma", "regression_gamma"),
        link="exp", default_metric="gamma_deviance", label_rule="> 0",
        check=_labels_positive("gamma"),
        xgboost=("reg:gamma",), lightgbm=("gamma",),
    ),
    ObjectiveInfo(
        name="tweedie",
        aliases=("reg:tweedie", "regression_tweedie"),
        link="exp", default_metric="tweedie_nloglik", label_rule=">= 0",
        check=_labels_nonnegative("tweedie"), params=("tweedie_variance_power",),
        xgboost=("reg:tweedie",), lightgbm=("tweedie",),
    ),
    # The robust losses: identity link; after each tree is grown its leaf values are re-fitted
    # to the loss's exact minimiser over the leaf's residuals (cpp/src/objective.cpp LeafValue).
    ObjectiveInfo(
        name="l1",
        aliases=("regression_l1", "mae", "mean_absolute_error", "absolute_error",
                 "reg:absoluteerror"),
        link="identity", default_metric="mae", label_rule="finite",
        check=_labels_any,
        xgboost=("reg:absoluteerror",),
        lightgbm=("l1", "regression_l1", "mean_absolute_error", "mae"),
        onnx_post_transform="NONE",
    ),
    ObjectiveInfo(
        name="huber",
        aliases=("huber_loss",),
        link="identity", default_metric="huber", label_rule="finite",
        check=_labels_any, params=("huber_delta",),
        # XGBoost's pseudo-Huber is a smooth cousin of the Huber loss (same identity link: its
        # models import and score the same; it is not an alias for training)
        xgboost=("reg:pseudohubererror",),
        lightgbm=("huber",),
        onnx_post_transform="NONE",
    ),
    ObjectiveInfo(
        name="quantile",
        aliases=("reg:quantileerror", "pinball"),
        link="identity", default_metric="pinball", label_rule="finite",
        # alpha may be a list of strictly increasing levels: one output per level, sorted
        # per row at prediction (multi-quantile; num_class = the number of levels)
        check=_labels_any, params=("alpha",), multi_level=True,
        xgboost=("reg:quantileerror",),
        lightgbm=("quantile",),
        onnx_post_transform="NONE",
    ),
    # Ranking: query groups (Dataset group= / qid=); the raw score orders a query's documents.
    # XGBoost's rank:pairwise and rank:map models score the same way (raw margins of a ranking
    # model) and import as lambdarank; only rank:ndcg is the same loss.
    ObjectiveInfo(
        name="lambdarank",
        aliases=("rank:ndcg", "lambdamart"),
        link="identity", default_metric="ndcg@10", label_rule="integer relevance >= 0",
        check=_labels_relevance,
        params=("lambdarank_truncation_level", "lambdarank_norm", "label_gain"),
        xgboost=("rank:ndcg", "rank:pairwise", "rank:map"),
        lightgbm=("lambdarank",),
        onnx_post_transform="NONE",
    ),
    ObjectiveInfo(
        name="rank_xendcg",
        aliases=("xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart"),
        link="identity", default_metric="ndcg@10", label_rule="integer relevance >= 0",
        check=_labels_relevance, params=("label_gain",),
        lightgbm=("rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart"),
        onnx_post_transform="NONE",
    ),
    # Survival: Cox proportional hazards (Breslow partial likelihood); labels are survival
    # times, negative for a censored row; predictions are hazard ratios exp(raw).
    ObjectiveInfo(
        name="cox",
        aliases=("survival:cox", "coxph"),
        link="exp", default_metric="cindex",
        label_rule="non-zero survival time (negative = censored)",
        check=_labels_survival,
        xgboost=("survival:cox",),
    ),
)

_BY_NAME: dict[str, ObjectiveInfo] = {o.name: o for o in REGISTRY}
_BY_ALIAS: dict[str, ObjectiveInfo] = {
    **{a: o for o in REGISTRY for a in o.aliases}, **_BY_NAME}
_BY_XGBOOST: dict[str, ObjectiveInfo] = {n: o for o in REGISTRY for n in o.xgboost}
_BY_LIGHTGBM: dict[str, ObjectiveInfo] = {n: o for o in REGISTRY for n in o.lightgbm}


def names() -> tuple[str, ...]:
    """The canonical objective names, in registry order."""
    return tuple(_BY_NAME)


def get(name: str) -> ObjectiveInfo:
    """The objective with this canonical name (ParameterError for any other)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ParameterError(
            f"unknown objective {name!r}; expected one of {_quoted(names())}") from None


def resolve(name: object) -> ObjectiveInfo:
    """The objective a user-given name or alias means (ParameterError for an unknown one)."""
    if isinstance(name, str) and name in _BY_ALIAS:
        return _BY_ALIAS[name]
    raise ParameterError(f"unknown objective {name!r}; expected one of {_quoted(names())}")


def from_xgboost(name: str) -> ObjectiveInfo | None:
    """The objective an XGBoost objective name imports as (None: not supported)."""
    return _BY_XGBOOST.get(name) if isinstance(name, str) else None


def from_lightgbm(name: str) -> ObjectiveInfo | None:
    """The objective a LightGBM objective name imports as (None: not supported)."""
    return _BY_LIGHTGBM.get(name) if isinstance(name, str) else None


def link_transform(link: Link, raw: np.ndarray) -> np.ndarray:
    """A plain numpy reference of each link (raw: (n,) or (n, k) margins)."""
    r = np.asarray(raw, dtype=np.float64)
    if link == "identity":
        return r.copy()
    if link == "sigmoid":
        return 1.0 / (1.0 + np.exp(-r))
    if link == "exp":
        return np.exp(r)
    if link == "sort":
        return np.sort(r, axis=-1)
    z = np.exp(r - r.max(axis=-1, keepdims=True))
    out: np.ndarray = z / z.sum(axis=-1, keepdims=True)
    return out


def _quoted(items: tuple[str, ...]) -> str:
    return ", ".join(repr(s) for s in items)
