"""Scoring and profiling on Dask (one machine or a cluster): ``pip install sapwood[dask]``.

- ``predict(booster, ddf)``: a Dask Series (DataFrame for multiclass) of predictions, one task
  per partition. The model travels as its model-file bytes in a single graph key, so each
  worker receives it once (not once per partition) and parses it once (a per-process cache
  keyed by the bytes' digest).
- ``score(booster, "in/*.parquet", "out/")``: a whole scoring job, one task per input file,
  each writing its part atomically (see :func:`sapwood.scoring.score`); ``resume=True``
  skips finished parts. Paths must be visible to every worker (a shared file system).
- ``train(params, ddf, label=...)``: training on the workers, giving the same model as
  ``sapwood.train`` on the same rows, bit for bit (:mod:`sapwood.train.dask_training`);
  ``DaskGBMClassifier`` / ``DaskGBMRegressor``: the scikit-learn estimators on top of it.
- ``profile(ddf)``: the monitoring profile of the whole frame, merged from partition profiles
  in a tree reduction (exact: equal to profiling the concatenated data on the same edges);
  ``store=`` also appends it to a monitoring store (:class:`sapwood.monitoring.store.ProfileStore`)
  with its time window and the booster's checksum.

Works with whatever scheduler is active: a ``distributed.Client`` (local or remote cluster)
or Dask's local schedulers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._dask_predict import _model_ref, _ModelRef, predict
from .errors import ParameterError

if TYPE_CHECKING:
    from .train.dask_sklearn import DaskGBMClassifier, DaskGBMRanker, DaskGBMRegressor
    from .train.dask_training import train

__all__ = ["predict", "score", "profile", "train", "DaskGBMClassifier", "DaskGBMRegressor",
           "DaskGBMRanker"]


def __getattr__(name: str) -> Any:
    # Training lives in sapwood.train (it shares the single-machine loop); imported on first
    # use so that scoring on a cluster does not load it.
    if name == "train":
        from .train.dask_training import train

        return train
    if name in ("DaskGBMClassifier", "DaskGBMRegressor", "DaskGBMRanker"):
        from .train import dask_sklearn

        return getattr(dask_sklearn, name)
    raise AttributeError(f"module 'sapwood.dask' has no attribute {name!r}")

def _score_part(ref: _ModelRef, source: str, target: str, kwargs: dict[str, Any]) -> Any:
    from .scoring.api import score as _score

    return _score(ref.booster(), source, target, progress=False, **kwargs)


def score(booster: Any, source: str | os.PathLike[str], sink: str | os.PathLike[str], *,
          id_columns: Sequence[str] | None = None, output: str = "value",
          batch_rows: int = 131072, resume: bool = False, input_format: str | None = None,
          output_format: str | None = None, n_jobs: int | None = None,
          device: str = "cpu") -> Any:
    """Score every input file as one Dask task (one output part per input file).

    source: a folder or a glob (a single file is one task); sink: the output folder. Returns
    a :class:`sapwood.scoring.ScoreSummary` adding up the parts.
    """
    from dask.base import compute
    from dask.delayed import delayed

    from .scoring.api import ScoreSummary
    from .scoring.plan import part_complete, plan, remove_stale_temporaries

    src, dst = os.fspath(source), os.fspath(sink)
    if not dst.endswith(("/", os.sep)):
        dst += os.sep
    job = plan(src, dst, output_format)
    parts, out_fmt = job.parts, job.output_format
    ref = _model_ref(booster)
    kwargs = {"id_columns": list(id_columns or ()), "output": output, "batch_rows": batch_rows,
              "input_format": input_format, "output_format": out_fmt, "n_jobs": n_jobs,
              "device": device}
    total = ScoreSummary()
    tasks = []
    for p in parts:
        if resume and part_complete(p, input_format, out_fmt):
            remove_stale_temporaries(p.target)
            total.parts_skipped += 1
            total.outputs.append(p.target)
            continue
        tasks.append(delayed(_score_part, pure=False)(ref, p.source, p.target, kwargs))
    import time

    t0 = time.perf_counter()
    results: tuple[Any, ...] = compute(*tasks) if tasks else ()  # type: ignore[no-untyped-call]
    for r in results:
        total.rows += r.rows
        total.batches += r.batches
        total.parts_written += r.parts_written
        total.outputs.extend(r.outputs)
        total.peak_memory_mb = max(total.peak_memory_mb, r.peak_memory_mb)
    total.seconds = time.perf_counter() - t0
    return total


def _profile_partition(pdf: Any, edges: Any, ref: _ModelRef | None,
                       columns: list[str] | None) -> Any:
    from .monitoring.profile import Profile

    preds = None
    if ref is not None:
        b = ref.booster()
        preds = np.asarray(b.predict(pdf[b.feature_names])) if len(pdf) else np.zeros(0)
    return Profile.from_data(pdf, edges_from=edges, predictions=preds, columns=columns)


def _merge(*profiles: Any) -> Any:
    return profiles[0].merge(*profiles[1:])


def profile(ddf: Any, *, edges_from: Any = None, booster: Any = None,
            columns: Sequence[str] | None = None, split_every: int = 8, store: Any = None,
            window_start: Any = None, window_end: Any = None, source: str = "") -> Any:
    """The :class:`sapwood.Profile` of a whole Dask DataFrame.

    Partition profiles are counted on fixed bin edges and merged in a tree reduction
    (``split_every`` profiles per merge), so the result equals profiling the whole frame on
    those edges. edges_from: a reference Profile (use the model's reference profile to
    compare with it later); by default the edges are fitted on the first partition.
    booster: also profile its predictions (as ``__prediction__``).
    store: a ProfileStore (or its path / URL) to append the profile to, with ``window_start``
    / ``window_end`` (default: now) and ``source``, and the booster's SHA-256.
    """
    from dask.delayed import delayed

    from .monitoring.profile import Profile

    if split_every < 2:
        raise ParameterError(f"split_every must be >= 2, got {split_every}")
    ref = _model_ref(booster) if booster is not None else None
    cols = list(columns) if columns is not None else None
    parts = ddf.to_delayed()
    if edges_from is None:
        first = delayed(_profile_partition)(parts[0], None, ref, cols).compute()
        edges_from = first
    if not isinstance(edges_from, Profile):
        raise ParameterError("edges_from must be a Profile")
    edges = delayed(edges_from, pure=True)  # one key, fetched once per worker
    level = [delayed(_profile_partition)(p, edges, ref, cols) for p in parts]
    while len(level) > 1:
        level = [delayed(_merge)(*level[i:i + split_every])
                 for i in range(0, len(level), split_every)]
    result = level[0].compute()
    if store is not None:
        from .monitoring.store import ProfileStore

        st = store if isinstance(store, ProfileStore) else ProfileStore(store)
        st.append(result, window_start=window_start, window_end=window_end,
                  model=booster, source=source)
    return result
