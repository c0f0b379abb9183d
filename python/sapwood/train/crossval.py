"""cv(): k-fold cross-validation with stratified, grouped and time-ordered splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .._params import resolve_params
from ..dataset import Dataset
from ..errors import DataError, ParameterError
from ..metrics import HIGHER_IS_BETTER
from ..model.booster import Booster
from .callbacks import EarlyStopping, TrainingCallback
from .training import train

__all__ = ["cv", "CVResult", "make_folds"]


@dataclass
class CVResult:
    """What cv() returns.

    history[metric] = {"mean": [...], "std": [...]} per iteration, over the iterations every
    fold ran; best_iteration (1-based) is where the mean of the first metric is best;
    fold_best_iteration holds each fold's own early-stopping point.
    """

    history: dict[str, dict[str, list[float]]]
    best_iteration: int
    best_score: dict[str, float]
    models: list[Booster]
    folds: list[tuple[np.ndarray, np.ndarray]]
    fold_best_iteration: list[int | None] = field(default_factory=list)

    @property
    def metric(self) -> str:
        return next(iter(self.history))


def _split_chunks(idx: np.ndarray, k: int) -> list[np.ndarray]:
    return [np.asarray(c) for c in np.array_split(idx, k)]


def make_folds(
    n_rows: int,
    folds: int = 5,
    *,
    label: np.ndarray | None = None,
    stratified: bool = False,
    groups: npt.ArrayLike | None = None,
    time: npt.ArrayLike | None = None,
    shuffle: bool = True,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_rows, valid_rows) pairs.

    time: expanding-window splits on the rows sorted by time (fold i trains on the first i+1
    of folds+1 chunks and validates on the next; no validation row precedes a training row).
    groups: no group is split between train and valid (groups are dealt to folds, largest
    first, to the fold with the fewest rows). stratified: each class is dealt evenly.
    """
    if not isinstance(folds, int) or folds < 2:
        raise ParameterError(f"folds must be an integer >= 2, got {folds!r}")
    if sum(x is not None and x is not False for x in (groups, time, stratified or None)) > 1:
        raise ParameterError("choose at most one of stratified, groups and time_column")
    rng = np.random.default_rng(seed)
    rows = np.arange(n_rows)
    if time is not None:
        t = np.asarray(time, dtype=np.float64)
        if t.shape != (n_rows,):
            raise DataError(f"time has shape {t.shape}, expected ({n_rows},)")
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            raise DataError(f"time column has a missing or infinite value at row {bad[0]}")
        order = np.argsort(t, kind="stable")
        chunks = _split_chunks(order, folds + 1)
        if min(c.size for c in chunks) == 0:
            raise DataError(f"{n_rows} rows are too few for {folds} time-ordered folds")
        return [(np.sort(np.concatenate(chunks[:i + 1])), np.sort(chunks[i + 1]))
                for i in range(folds)]
    if n_rows < folds:
        raise DataError(f"{n_rows} rows are too few for {folds} folds")
    assign = np.empty(n_rows, dtype=np.int64)
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (n_rows,):
            raise DataError(f"groups has shape {g.shape}, expected ({n_rows},)")
        uniq, inv, counts = np.unique(g, return_inverse=True, return_counts=True)
        if uniq.size < folds:
            raise DataError(f"{uniq.size} groups are too few for {folds} folds")
        perm = rng.permutation(uniq.size) if shuffle else np.arange(uniq.size)
        order = perm[np.argsort(-counts[perm], kind="stable")]
        sizes = np.zeros(folds, dtype=np.int64)
        gfold = np.empty(uniq.size, dtype=np.int64)
        for gi in order:
            f = int(np.argmin(sizes))
            gfold[gi] = f
            sizes[f] += counts[gi]
        assign = gfold[inv]
    elif stratified:
        if label is None:
            raise DataError("stratified folds need a label")
        offset = 0
        for cls in np.unique(label):
            idx = np.flatnonzero(label == cls)
            if shuffle:
                idx = rng.permutation(idx)
            assign[idx] = (np.arange(idx.size) + offset) % folds
            offset += idx.size
    else:
        idx = rng.permutation(n_rows) if shuffle else rows
        for f, c in enumerate(_split_chunks(idx, folds)):
            assign[c] = f
    return [(rows[assign != f], rows[assign == f]) for f in range(folds)]


def _query_of_row(ds: Dataset) -> np.ndarray | None:
    """Each row's query index (None without query groups)."""
    sizes = ds.group
    return None if sizes is None else np.repeat(np.arange(sizes.size), sizes)


def _subset(ds: Dataset, idx: np.ndarray) -> Dataset:
    q = _query_of_row(ds)
    return Dataset(ds.X[idx], None if ds.label is None else ds.label[idx],
                   None if ds.weight is None else ds.weight[idx],
                   feature_names=ds.feature_names,
                   init_score=None if ds.init_score is None else ds.init_score[idx],
                   qid=None if q is None else q[idx])


def _check_queries_whole(query: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Every query's rows on one side of each fold."""
    size = np.bincount(query)
    for i, (_, va) in enumerate(splits):
        inside = np.zeros(query.size, dtype=bool)
        inside[va] = True
        per = np.bincount(query, weights=inside, minlength=size.size)
        split = np.flatnonzero((per > 0) & (per < size))
        if split.size:
            raise DataError(f"fold {i} splits query {split[0]} between training and validation "
                            "rows; a query's rows must stay together")


def cv(
    params: Mapping[str, Any] | None,
    dataset: Dataset,
    folds: int | Sequence[tuple[npt.ArrayLike, npt.ArrayLike]] = 5,
    *,
    stratified: bool | None = None,
    groups: npt.ArrayLike | None = None,
    time_column: str | npt.ArrayLike | None = None,
    shuffle: bool = True,
    early_stopping_rounds: int | None = None,
    callbacks: Sequence[TrainingCallback] = (),
) -> CVResult:
    """Cross-validate ``params`` on ``dataset``.

    folds: a number, or explicit (train_rows, valid_rows) pairs. stratified defaults to True
    for classification objectives. groups: one group label per row. A dataset with query
    groups (ranking) is folded by query unless groups or time_column are given, and no fold
    may split a query. time_column: a feature
    name (or one value per row) giving time order. With early_stopping_rounds each fold stops
    on its own validation fold. Returns mean and std of each metric per iteration, the best
    iteration by the mean, and the fold models.
    """
    p = resolve_params(params)
    if not isinstance(dataset, Dataset) or dataset.label is None:
        raise DataError("cv needs a sapwood.Dataset with a label")
    n = dataset.num_rows
    if isinstance(folds, int):
        time = None
        if time_column is not None:
            if isinstance(time_column, str):
                if time_column not in dataset.feature_names:
                    raise DataError(f"time_column {time_column!r} is not a column of the data")
                time = dataset.X[:, dataset.feature_names.index(time_column)]
            else:
                time = np.asarray(time_column)
        strat = (p["objective"] in ("binary", "multiclass")) if stratified is None else stratified
        query = _query_of_row(dataset)
        if query is not None and groups is None and time is None:
            groups = query  # whole queries to folds
        if groups is not None or time is not None:
            strat = False
        splits = make_folds(n, folds, label=dataset.label, stratified=strat, groups=groups,
                            time=time, shuffle=shuffle, seed=int(p["random_state"]))
    else:
        splits = []
        for i, (tr, va) in enumerate(folds):
            tr_a, va_a = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
            for what, a in (("train", tr_a), ("valid", va_a)):
                if a.ndim != 1 or a.size == 0 or a.min() < 0 or a.max() >= n:
                    raise DataError(f"fold {i}: {what} rows must be a non-empty list of row "
                                    f"indices in [0, {n})")
            splits.append((tr_a, va_a))
    q = _query_of_row(dataset)
    if q is not None:
        _check_queries_whole(q, splits)
    models: list[Booster] = []
    histories: list[dict[str, list[float]]] = []
    for tr, va in splits:
        cbs = list(callbacks)
        if early_stopping_rounds is not None:
            cbs.append(EarlyStopping(int(early_stopping_rounds), data_name="valid"))
        b = train(params, _subset(dataset, tr), valid_sets=[_subset(dataset, va)],
                  valid_names=["valid"], callbacks=cbs)
        models.append(b)
        histories.append(b.evals_result["valid"])
    metrics = list(histories[0])
    length = min(len(h[metrics[0]]) for h in histories)
    history: dict[str, dict[str, list[float]]] = {}
    for m in metrics:
        vals = np.array([h[m][:length] for h in histories])
        history[m] = {"mean": [float(v) for v in vals.mean(axis=0)],
                      "std": [float(v) for v in vals.std(axis=0)]}
    first = metrics[0]
    mean = np.asarray(history[first]["mean"])
    best = int(np.nanargmax(mean) if first in HIGHER_IS_BETTER else np.nanargmin(mean))
    return CVResult(
        history=history,
        best_iteration=best + 1,
        best_score={m: history[m]["mean"][best] for m in metrics},
        models=models,
        folds=[(np.asarray(a), np.asarray(b)) for a, b in splits],
        fold_best_iteration=[m.best_iteration for m in models],
    )
