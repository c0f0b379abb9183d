"""train(): the boosting loop. Python drives the rounds and callbacks; C++ grows each tree."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core, objectives
from .._params import core_params, resolve_params
from ..dataset import Dataset
from ..errors import DataError, ParameterError
from ..metrics import default_metric, get_metric
from ..model.booster import Booster
from ..model.builder import ModelBuilder
from ..model.provenance import make_provenance
from .callbacks import CallbackEnv, TrainingCallback

__all__ = ["train"]


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
        if canon not in [c for c, _ in out]:
            out.append((canon, fn))
    return out


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


def train(
    params: Mapping[str, Any] | None,
    train_set: Dataset,
    valid_sets: Sequence[Dataset] = (),
    valid_names: Sequence[str] | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    *,
    reference_profile: bool = True,
) -> Booster:
    """Train a gradient-boosted tree ensemble.

    params: objective ("regression", "binary", "multiclass" with num_class; "poisson", "gamma",
    "tweedie" with tweedie_variance_power in (1, 2): log link, predictions exp(raw)), n_estimators,
    learning_rate, num_leaves, max_depth, min_child_samples, min_child_weight, min_split_gain,
    reg_lambda, reg_alpha, subsample, colsample_bytree, max_bin, bin_sample_rows, metric,
    random_state, n_jobs. Unknown names raise ParameterError.
    valid_sets are scored after every round with the metrics; callbacks see the results and may
    stop training (see EarlyStopping).
    reference_profile: store the profile of the training data and of the model's predictions
    on it in ``booster.reference_profile`` (and so in the model file), the reference that
    ``sapwood.monitoring.compare(booster, batch)`` checks later batches against.
    """
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
    metrics = _metrics_for(p)

    binned = train_set.construct(p["max_bin"], p["bin_sample_rows"], p["random_state"], p["n_jobs"],
                                 p["cat_min_count"], p["cat_encoding"], p["cat_ts_min_categories"],
                                 p["cat_ts_prior_weight"])
    trainer = _core.Trainer(binned, train_set.label, train_set.weight, core_params(p))

    mb = ModelBuilder(p["objective"], num_class=p["num_class"],
                      feature_names=list(train_set.feature_names),
                      init_score=np.asarray(trainer.init_score, dtype=np.float64))
    mb.bin_edges = [np.asarray(e) for e in (train_set.bin_edges or [])]
    schema = train_set.trained_schema(p["max_bin"], p["cat_min_count"])
    mb.schema = schema
    mb.params = dict(p)
    mb.provenance = make_provenance(train_set)  # model file: version, time, data hash
    booster = Booster.from_builder(mb)  # no trees yet: add_round() appends each round's
    # validation features encoded through the training schema (same category codes)
    valid_X = [None if ds is train_set else ds.encoded_for(schema) for ds in valid_sets]
    k = booster.num_outputs

    valid_scores = []
    for ds in valid_sets:
        s = np.empty((ds.num_rows, k), dtype=np.float64)
        s[:] = booster.init_score.reshape(1, k)
        valid_scores.append(s)
    history: dict[str, dict[str, list[float]]] = {n: {m: [] for m, _ in metrics} for n in names}

    for cb in callbacks:
        cb.before_training(booster)
    for it in range(p["n_estimators"]):
        trees = trainer.boost_round()
        if all(int(t["feature"].size) == 1 for t in trees) and it > 0:
            break  # no split gains anything any more: further rounds would be identical
        booster.add_round(trees)
        evaluation: dict[str, dict[str, float]] = {}
        if valid_sets:
            forest = _core.Forest(trees, np.arange(k, dtype=np.int32), k, booster.num_features)
            for ds, name, s, vx in zip(valid_sets, names, valid_scores, valid_X, strict=False):
                if vx is None:
                    s[:] = trainer.scores()
                else:
                    forest.predict_raw(vx, 0, k, s, p["n_jobs"])
                out = s.copy()
                _core.transform_scores(booster.objective, booster.num_class, out, p["n_jobs"])
                pred = out[:, 0] if k == 1 else out
                evaluation[name] = {}
                for m, fn in metrics:
                    score = pred if m != "auc" else s[:, 0]
                    val = float(fn(ds.label, score, ds.weight))
                    evaluation[name][m] = val
                    history[name][m].append(val)
        env = CallbackEnv(booster=booster, iteration=it, n_estimators=p["n_estimators"],
                          evaluation=evaluation, history=history)
        stop = False
        for cb in callbacks:
            stop = bool(cb.after_iteration(env)) or stop
        if stop:
            break
    booster.evals_result = history
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
        pred = booster.predict(source, n_jobs=n_jobs)
    else:  # the training scores are the model's raw margins on the training rows
        raw = np.ascontiguousarray(trainer.scores())
        _core.transform_scores(booster.objective, booster.num_class, raw, n_jobs)
        pred = raw[:, 0] if raw.shape[1] == 1 else raw
    names = list(booster.feature_names)
    is_frame = hasattr(source, "columns") or hasattr(source, "column_names")
    booster.reference_profile = Profile.from_data(
        source, edges_from=booster, categorical=booster.categorical_features,
        predictions=pred, names=None if is_frame else names, columns=names, n_jobs=n_jobs)
