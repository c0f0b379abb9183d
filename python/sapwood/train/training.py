"""train(): the boosting loop. Python drives the rounds and callbacks; C++ grows each tree."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core, objectives
from .._params import (
    core_params,
    label_key,
    resolve_interactions,
    resolve_monotone,
    resolve_params,
)
from ..dataset import Dataset
from ..errors import DataError, ParameterError
from ..metrics import default_metric, get_metric, needs_groups
from ..model.booster import Booster
from ..model.builder import ModelBuilder
from ..model.provenance import make_provenance
from .callbacks import CallbackEnv, TrainingCallback
from .custom import gradients_of

__all__ = ["train", "boost_rounds"]


def _callables(params: Mapping[str, Any] | None
               ) -> tuple[dict[str, Any], Any, list[tuple[str, Any]]]:
    """Custom objective and metric callables taken out of the parameters.

    ``objective=fn``: fn(y_true, raw_score) -> (grad, hess): raw_score (n,) for one output,
    (n, K) raw margins with ``num_class=K``; grad and hess (n, K) or flat (n * K,)
    output-major (see train.custom.gradients_of); sample weights multiply them afterwards. The
    model is stored with objective "custom" (identity link: it predicts the raw margins, (n, K)
    for K outputs). A compiled objective (``sapwood.compiled_objective``) has one output.
    ``metric=fn`` (or in a list): fn(y_true, prediction, weight) -> float under the name
    ``fn.__name__`` (prediction: the raw margins, (n, K) for K outputs); better when higher if
    ``fn.higher_is_better`` is true. Model files keep the built-in metric names only.
    """
    p = dict(params or {})
    obj = p.get("objective")
    custom_obj = None
    if callable(obj):
        custom_obj = obj
        p["objective"] = "custom"
        if hasattr(obj, "address") and p.get("num_class") not in (None, 1):
            # one label and one score per call: a second output would see the same label and
            # learn the same trees; a multi-output loss is a numpy callable
            raise ParameterError(
                f"a compiled custom objective works on one output (one label, one score per "
                f"row), but num_class is {p.get('num_class')!r}: write a multi-output loss as "
                "a numpy callable fn(y_true, raw_score (n, K)) -> (grad, hess)")
    elif obj == "custom":
        raise ParameterError("objective 'custom' means a callable: pass the function itself "
                             "as the objective")
    m = p.get("metric")
    customs: list[tuple[str, Any]] = []
    if callable(m) or isinstance(m, (list, tuple)) and any(callable(x) for x in m):
        items = [m] if callable(m) else list(m)
        names = []
        for x in items:
            if callable(x):
                name = getattr(x, "__name__", "custom_metric")

                def call(y: Any, pred: Any, w: Any, fn: Any = x) -> float:
                    return float(fn(y, pred, w))

                call.higher_is_better = bool(getattr(x, "higher_is_better", False))  # type: ignore[attr-defined]
                customs.append((name, call))
            else:
                names.append(x)
        p["metric"] = names  # [] when only callables: no built-in metric
    if custom_obj is not None and p.get("metric") is None:
        p["metric"] = []  # a custom loss has no default metric
    return p, custom_obj, customs


def _metrics_for(p: Mapping[str, Any]) -> list[tuple[str, Any]]:
    m = p["metric"]
    names = [default_metric(p["objective"])] if m is None else ([m] if isinstance(m, str) else list(m))
    out: list[tuple[str, Any]] = []
    for name in names:
        canon, fn = get_metric(str(name), p["objective"])
        if canon == "tweedie_nloglik":  # at the model's own variance power
            fn = functools.partial(fn, power=p["tweedie_variance_power"])
        elif canon == "huber":  # at the model's own delta / quantile level
            fn = functools.partial(fn, delta=p["huber_delta"])
        elif canon == "pinball":
            fn = functools.partial(fn, alpha=p["alpha"] if p["alpha"] is not None else 0.5)
        elif canon.split("@")[0] == "ndcg":  # at the model's own label gains
            fn = functools.partial(fn, label_gain=p["label_gain"], n_jobs=p["n_jobs"])
        elif canon.split("@")[0] == "map":
            fn = functools.partial(fn, n_jobs=p["n_jobs"])
        if canon not in [c for c, _ in out]:
            out.append((canon, fn))
    return out


def _class_weighted(p: Mapping[str, Any], y: np.ndarray,
                    weight: np.ndarray | None) -> np.ndarray | None:
    """The sample weights times each row's class weight (class_weight, scale_pos_weight)."""
    cw, spw = p["class_weight"], p["scale_pos_weight"]
    if cw is None and spw == 1.0:
        return weight
    factor = np.ones(y.shape[0], dtype=np.float64)
    if cw == "balanced":  # n / (classes * rows of the class), as scikit-learn and LightGBM
        _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        factor = (y.shape[0] / (counts.size * counts.astype(np.float64)))[inverse]
    elif cw is not None:
        keys = np.array([label_key(v) for v in np.unique(y)])
        for key, w in cw.items():
            if key not in keys:
                raise ParameterError(f"parameter 'class_weight' gives a weight to label {key}, "
                                     f"which the training labels do not have (they are "
                                     f"{', '.join(keys[:10])})")
            factor[y == float(key)] = w
    if spw != 1.0:
        factor[y == 1] *= spw
    out = factor if weight is None else weight * factor
    if not out.sum() > 0:
        raise DataError("class_weight and the sample weights give every row weight zero")
    return out


def _offsets(ds: Dataset, k: int, name: str) -> np.ndarray | None:
    """The dataset's init_score as (n_rows, k) margins, or None."""
    off = ds.init_score
    if off is None:
        return None
    if off.ndim == 1 and k == 1:
        return off.reshape(-1, 1)
    if off.ndim == 2 and off.shape[1] == k:
        return off
    raise DataError(f"{name}: init_score must have one column per model output ({k}), got "
                    f"shape {off.shape}")


def _initial_model(init_model: Any, p: Mapping[str, Any], train_set: Dataset) -> Booster:
    """The Booster to continue from (a Booster or a model file path), checked against the
    parameters and the training data."""
    if isinstance(init_model, (str, os.PathLike)):
        from ..model.io import load_any

        init_model = load_any(init_model)
    if not isinstance(init_model, Booster):
        raise ParameterError(f"init_model must be a sapwood.Booster or a model file path, got "
                             f"{type(init_model)!r}")
    if init_model.objective != p["objective"] or init_model.num_class != p["num_class"]:
        raise ParameterError(
            f"init_model was trained for objective {init_model.objective!r} with "
            f"{init_model.num_class} class(es); these parameters ask for {p['objective']!r} "
            f"with {p['num_class']}")
    if list(init_model.feature_names) != list(train_set.feature_names):
        raise DataError(f"init_model's features {init_model.feature_names[:10]} are not the "
                        f"training data's {train_set.feature_names[:10]}")
    return init_model


def _same_binning(model: Booster, train_set: Dataset, schema: Any) -> bool:
    """Whether the model's trees were grown on this very binning (their bin thresholds then
    hold for the training data's bin codes)."""
    edges = train_set.bin_edges or []
    return (model.schema == schema and len(model.bin_edges) == len(edges)
            and "source" not in model.params
            and all(np.array_equal(np.asarray(a), np.asarray(b))
                    for a, b in zip(model.bin_edges, edges, strict=True)))


def _tree_dicts(model: Booster) -> list[dict[str, np.ndarray]]:
    return [dict(t) for t in model.trees()]


def _check_groups(p: Mapping[str, Any], metrics: list[tuple[str, Any]], train_set: Dataset,
                  valid_sets: Sequence[Dataset], names: Sequence[str]) -> None:
    """Ranking objectives need the training data's query groups, query metrics every valid
    set's."""
    if objectives.get(p["objective"]).name in ("lambdarank", "rank_xendcg") \
            and train_set.query_bounds is None:
        raise DataError(f"the {p['objective']} objective needs query groups: "
                        "Dataset(..., group=sizes) or Dataset(..., qid=per-row ids)")
    for m, _ in metrics:
        if not needs_groups(m):
            continue
        for ds, name in zip(valid_sets, names, strict=False):
            if ds.query_bounds is None:
                raise DataError(f"metric {m!r} is computed per query, but valid set {name!r} "
                                "has no query groups (Dataset group= or qid=)")


def _check_valid(ds: Dataset, train_set: Dataset, name: str) -> None:
    if not isinstance(ds, Dataset):
        raise DataError(f"valid set {name!r} must be a sapwood.Dataset, got {type(ds)!r}")
    if ds.label is None:
        raise DataError(f"valid set {name!r} has no label")
    if ds.num_features != train_set.num_features:
        raise DataError(
            f"valid set {name!r} has {ds.num_features} features but the training data has "
            f"{train_set.num_features}"
        )


class _LocalRounds:
    """Rounds on this machine: the C++ Trainer grows them; validation scores are updated here."""

    def __init__(self, trainer: Any, valid_X: list[Any], valid_scores: list[np.ndarray], k: int,
                 num_features: int, n_jobs: int,
                 custom: tuple[Any, np.ndarray, np.ndarray | None] | None = None,
                 first_round: int = 0) -> None:
        self.trainer, self.valid_X, self.valid_scores = trainer, valid_X, valid_scores
        self.k, self.num_features, self.n_jobs = k, num_features, n_jobs
        self.custom = custom
        self.round = first_round  # the round the next boost_round grows (errors name it)

    def boost_round(self) -> list[dict[str, np.ndarray]]:
        if self.custom is not None and not hasattr(self.custom[0], "address"):
            fn, y, w = self.custom
            g, h = gradients_of(fn, y, self.trainer.scores(), w, self.round)
            self.trainer.set_gradients(g, h)
        self.round += 1
        return list(self.trainer.boost_round())

    def eval_scores(self, trees: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        forest = _core.Forest(trees, np.arange(self.k, dtype=np.int32), self.k, self.num_features)
        for s, vx in zip(self.valid_scores, self.valid_X, strict=True):
            if vx is None:
                s[:] = self.trainer.scores()
            else:
                forest.predict_raw(vx, 0, self.k, s, self.n_jobs)
        return self.valid_scores


def boost_rounds(booster: Booster, engine: Any,
                 evals: Sequence[tuple[Any, ...]],
                 metrics: list[tuple[str, Any]], callbacks: Sequence[TrainingCallback],
                 first_round: int, n_estimators: int) -> None:
    """The boosting loop, whoever grows the trees (this machine's Trainer or the Dask
    workers): rounds are added to ``booster``, the valid sets are scored with the metrics
    (``engine.eval_scores`` gives their raw margins after each round) and the callbacks may stop
    training. Sets ``booster.evals_result``. evals: (name, label, weight) or (name, label,
    weight, query sizes) per valid set (the query metrics need the sizes)."""
    names = [e[0] for e in evals]
    history: dict[str, dict[str, list[float]]] = {n: {m: [] for m, _ in metrics} for n in names}
    higher = frozenset(m for m, fn in metrics if getattr(fn, "higher_is_better", False))
    for cb in callbacks:
        cb.before_training(booster)
    for it in range(first_round, first_round + n_estimators):
        trees = engine.boost_round()
        if all(int(t["feature"].size) == 1 for t in trees) and it > first_round:
            break  # no split gains anything any more: further rounds would be identical
        booster.add_round(trees)
        evaluation: dict[str, dict[str, float]] = {}
        if evals:
            for e, s in zip(evals, engine.eval_scores(trees), strict=True):
                name, label, weight = e[0], e[1], e[2]
                group = e[3] if len(e) > 3 else None
                out = s.copy()
                _core.transform_scores(booster.objective, booster.num_class, out,
                                       engine.n_jobs)
                pred = out[:, 0] if out.shape[1] == 1 else out
                evaluation[name] = {}
                for m, fn in metrics:
                    # ranking metrics read the raw margin (cindex: exp could overflow to ties)
                    score = pred if m not in ("auc", "cindex") else s[:, 0]
                    if needs_groups(m):
                        val = float(fn(label, score, weight, group=group))
                    else:
                        val = float(fn(label, score, weight))
                    evaluation[name][m] = val
                    history[name][m].append(val)
        env = CallbackEnv(booster=booster, iteration=it,
                          n_estimators=first_round + n_estimators,
                          evaluation=evaluation, history=history,
                          higher_is_better=higher)
        stop = False
        for cb in callbacks:
            stop = bool(cb.after_iteration(env)) or stop
        if stop:
            break
    booster.evals_result = history


def train(
    params: Mapping[str, Any] | None,
    train_set: Dataset,
    valid_sets: Sequence[Dataset] = (),
    valid_names: Sequence[str] | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    *,
    reference_profile: bool = True,
    init_model: Booster | str | os.PathLike[str] | None = None,
) -> Booster:
    """Train a gradient-boosted tree ensemble.

    params: objective ("regression", "binary", "multiclass" with num_class; "poisson", "gamma",
    "tweedie" with tweedie_variance_power in (1, 2): log link, predictions exp(raw)), n_estimators,
    learning_rate, num_leaves, max_depth, min_child_samples, min_child_weight, min_split_gain,
    reg_lambda, reg_alpha, subsample, colsample_bytree, max_bin, bin_sample_rows, metric,
    random_state, n_jobs; "l1", "huber" (huber_delta), "quantile" (alpha, default 0.5): robust
    losses whose leaf values are re-fitted to the exact quantile of each leaf's residuals;
    class_weight ("balanced" or a mapping label -> weight) and scale_pos_weight (binary) multiply
    the sample weights of training; "lambdarank" (lambdarank_truncation_level,
    lambdarank_norm, label_gain) and "rank_xendcg" rank the documents of each query (the
    Dataset's group= / qid=; metrics "ndcg", "ndcg@k", "map@k" need the valid sets' groups
    too); "cox" (labels: survival time, negative = censored; predictions: hazard ratios;
    metric "cindex"). Unknown names raise ParameterError.
    valid_sets are scored after every round with the metrics; callbacks see the results and may
    stop training (see EarlyStopping).
    reference_profile: store the profile of the training data and of the model's predictions
    on it in ``booster.reference_profile`` (and so in the model file), the reference that
    ``sapwood.monitoring.compare(booster, batch)`` checks later batches against.
    Offsets: a Dataset's ``init_score`` (per-row starting margins) is where training starts
    instead of a constant (the model's constant ``init_score`` is then 0, as in LightGBM and
    XGBoost); the booster records it (``trained_with_init_score``) and predicts the margin on
    top of an offset given again to ``predict(X, init_score=...)``.
    init_model: a Booster (or a model file) to continue boosting from: the result holds its
    trees and ``n_estimators`` more rounds. With the same data and parameters this equals
    training all rounds at once, tree for tree and bit for bit.
    """
    params, custom_obj, custom_metrics = _callables(params)
    p = resolve_params(params)
    if not isinstance(train_set, Dataset):
        raise DataError(f"train_set must be a sapwood.Dataset, got {type(train_set)!r}")
    if train_set.label is None:
        raise DataError("train_set has no label")
    y = train_set.label
    objectives.get(p["objective"]).check_labels(y, p["num_class"])  # names the first bad row
    if p["objective"] == "binary" and np.unique(y).size < 2:
        raise DataError(f"binary objective needs both classes; every label is {y[0]:g}")
    names = list(valid_names) if valid_names is not None else [
        "training" if v is train_set else f"valid_{i}" for i, v in enumerate(valid_sets)
    ]
    if len(names) != len(valid_sets):
        raise ParameterError("valid_names must have one name per valid set")
    for ds, name in zip(valid_sets, names, strict=False):
        _check_valid(ds, train_set, name)
    metrics = _metrics_for(p) + custom_metrics
    _check_groups(p, metrics, train_set, valid_sets, names)
    base = _initial_model(init_model, p, train_set) if init_model is not None else None
    k_out = objectives.get(p["objective"]).num_outputs(p["num_class"])
    offset = _offsets(train_set, k_out, "train_set")
    valid_offsets = [_offsets(ds, k_out, f"valid set {name!r}")
                     for ds, name in zip(valid_sets, names, strict=False)]
    if offset is not None:
        for voff, name in zip(valid_offsets, names, strict=False):
            if voff is None:
                warnings.warn(f"the training data has an init_score but valid set {name!r} has "
                              "none: its metrics are computed without offsets (give it its "
                              "init_score; estimators: eval_init_score)", UserWarning,
                              stacklevel=2)

    p["monotone_constraints"] = resolve_monotone(
        p, train_set.feature_names, [s["kind"] == "categorical" for s in train_set.schema])
    p["interaction_constraints"] = resolve_interactions(p, train_set.feature_names)
    binned = train_set.construct(p["max_bin"], p["bin_sample_rows"], p["random_state"], p["n_jobs"],
                                 p["cat_min_count"], p["cat_encoding"], p["cat_ts_min_categories"],
                                 p["cat_ts_prior_weight"])
    weight = _class_weighted(p, y, train_set.weight)
    trainer = _core.Trainer(binned, train_set.label, weight, core_params(p))
    if train_set.query_bounds is not None:
        trainer.set_groups(train_set.query_bounds)
    schema = train_set.trained_schema(p["max_bin"], p["cat_min_count"])
    k = k_out
    n_rows = train_set.num_rows
    # The starting margins: the model's constant (the labels' best constant; 0 with offsets,
    # the initial model's own when continuing) + the offsets + the initial model's trees.
    if base is not None:
        const = np.asarray(base.init_score, dtype=np.float64)
    elif offset is not None:
        const = np.zeros(k)
    else:
        const = np.asarray(trainer.init_score, dtype=np.float64)
    base_trees = _tree_dicts(base) if base is not None else []
    if base is not None or offset is not None:
        start = np.empty((n_rows, k), dtype=np.float64)
        start[:] = const.reshape(1, k)
        if offset is not None:
            start += offset
        exact = base is not None and _same_binning(base, train_set, schema)
        if base is not None and base_trees and not exact:
            # another binning (or an imported model): its trees on the feature values
            x = train_set.encoded_for(base.schema) if base.schema else train_set.X
            _core.Forest(base_trees, np.asarray(base.tree_outputs, dtype=np.int32), k,
                         len(train_set.feature_names)).predict_raw(
                x, 0, len(base_trees), start, p["n_jobs"])
        trainer.set_scores(start, const)
        if exact:
            # the additions the original training made, in its order: bit-identical scores
            for i, t in enumerate(base_trees):
                trainer.add_tree_scores(t, i % k)
    first_round = base.num_rounds if base is not None else 0
    trainer.set_iteration(first_round)

    mb = ModelBuilder(p["objective"], num_class=p["num_class"],
                      feature_names=list(train_set.feature_names), init_score=const)
    mb.bin_edges = [np.asarray(e) for e in (train_set.bin_edges or [])]
    mb.schema = schema
    mb.params = dict(p)
    mb.provenance = make_provenance(train_set)  # model file: version, time, data hash
    if offset is not None or (base is not None and base.trained_with_init_score):
        mb.extra["trained_with_init_score"] = True
    for t in base_trees:
        mb.add_tree(t)
    booster = Booster.from_builder(mb)  # add_round() appends each new round's trees
    # validation features encoded through the training schema (same category codes)
    valid_X = [None if ds is train_set else ds.encoded_for(schema) for ds in valid_sets]

    valid_scores = []
    for ds, vx, voff in zip(valid_sets, valid_X, valid_offsets, strict=False):
        s = np.empty((ds.num_rows, k), dtype=np.float64)
        s[:] = const.reshape(1, k)
        if voff is not None:
            s += voff
        if base_trees and vx is not None:
            _core.Forest(base_trees, np.asarray(booster.tree_outputs, dtype=np.int32), k,
                         booster.num_features).predict_raw(vx, 0, len(base_trees), s,
                                                           p["n_jobs"])
        valid_scores.append(s)
    if custom_obj is not None and hasattr(custom_obj, "address"):
        trainer.set_elementwise(int(custom_obj.address))  # compiled: called from C++
    engine = _LocalRounds(trainer, valid_X, valid_scores, k, booster.num_features, p["n_jobs"],
                          None if custom_obj is None else (custom_obj, y, train_set.weight),
                          first_round)
    evals = [(name, ds.label, ds.weight, ds.group)
             for ds, name in zip(valid_sets, names, strict=False)]
    boost_rounds(booster, engine, evals, metrics, callbacks, first_round, p["n_estimators"])
    if reference_profile:
        _store_reference_profile(booster, train_set, trainer, p["n_jobs"])
    for cb in callbacks:
        cb.after_training(booster)
    return booster


def _store_reference_profile(booster: Booster, train_set: Dataset, trainer: Any,
                             n_jobs: int) -> None:
    """Profile the training features and the model's predictions on them (sapwood.monitoring
    compares later batches against it). In-memory data only: a streamed Parquet source is not
    read a third time."""
    source = getattr(train_set, "_source", None)
    if source is None:
        return
    from ..monitoring.profile import Profile

    if booster.best_iteration and booster.best_iteration < booster.num_rounds:
        pred = booster.predict(source, n_jobs=n_jobs, init_score=train_set.init_score)
    else:  # the training scores are the model's raw margins on the training rows
        raw = np.ascontiguousarray(trainer.scores())
        _core.transform_scores(booster.objective, booster.num_class, raw, n_jobs)
        pred = raw[:, 0] if raw.shape[1] == 1 else raw
    names = list(booster.feature_names)
    is_frame = hasattr(source, "columns") or hasattr(source, "column_names")
    booster.reference_profile = Profile.from_data(
        source, edges_from=booster, categorical=booster.categorical_features,
        predictions=pred, names=None if is_frame else names, columns=names, n_jobs=n_jobs)
