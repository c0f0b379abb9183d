"""Batch scoring jobs: ``score(model, source, sink)`` and its :class:`ScoreSummary`.

``score`` reads Parquet, CSV or Arrow IPC input (a file, a folder or a glob), one record batch
at a time, and writes Parquet, CSV (plain or gzip-compressed) or Arrow IPC output, in the
format its name (or ``output_format``) says. The job is planned first (:mod:`.plan`: inputs,
parts, formats; an output that is or lies inside an input is refused), then each part is
streamed through :mod:`.pipeline` (reader, scorers and writer overlap) into a
:mod:`.outputs` writer, and :mod:`.profiling` profiles what was scored when asked.

Output rows follow input rows, one output file ("part") per input file. Each part is written
to a hidden pid-tagged temporary beside its final name (``.<name>.<pid>.<random>.tmp``, see
:mod:`sapwood._fs`) and renamed over the final name only when complete: a failed,
interrupted or killed job leaves no file at the output path, and a later run removes the
temporaries of processes that are gone (never those of a run still writing). With a profile,
the parts and the profile are committed together at the end, so a failed job leaves none of
them. ``resume=True`` skips parts that are already complete.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._compat import require
from ..errors import DataError, ParameterError
from .outputs import (
    OUTPUT_KINDS,
    TMP_SUFFIX,
    PartWriter,
    StagedBytes,
    parse_kinds,
    prediction_columns,
)
from .pipeline import PartJob
from .plan import Part, count_rows, part_complete, plan, remove_stale_temporaries
from .profiling import Profiler

__all__ = ["score", "ScoreSummary", "OUTPUT_KINDS", "TMP_SUFFIX", "prediction_columns"]


@dataclass
class ScoreSummary:
    """What a scoring job did (``to_json()`` is the command's summary line)."""

    rows: int = 0
    seconds: float = 0.0
    parts_written: int = 0
    parts_skipped: int = 0
    batches: int = 0
    peak_memory_mb: float = 0.0
    outputs: list[str] = field(default_factory=list)
    profile: str | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "parts_written": self.parts_written,
            "parts_skipped": self.parts_skipped,
            "batches": self.batches,
            "profile": self.profile,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)


def _load_model(model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)):
        from ..model.io import load_any

        return load_any(model)
    if not (hasattr(model, "predict") and hasattr(model, "feature_names")):
        raise ParameterError(f"model must be a Booster or a model file path, got {type(model)!r}")
    return model


def _progress_bar(total: int | None, enabled: bool | None) -> tuple[Any, Callable[[int], None]]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None, lambda n: None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return None, lambda n: None
    bar = tqdm(total=total, unit="rows", unit_scale=True, dynamic_ncols=True, file=sys.stderr)
    return bar, bar.update



class _Outputs:
    """The files a job writes. Parts are committed as they finish (so that ``resume`` can
    skip them after a failure), unless ``together``: then every output waits for the end and
    all are committed at once, so a failed job leaves none of them (used with a profile,
    which describes every part). Folders made for the outputs go again if left empty."""

    def __init__(self, together: bool) -> None:
        self.together = together
        self.staged: list[PartWriter | StagedBytes] = []
        self.folders: list[str] = []

    def make_folder(self, target: str) -> None:
        missing = []
        d = os.path.dirname(os.path.abspath(target))
        while d and not os.path.isdir(d):
            missing.append(d)
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        try:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        except OSError as e:
            raise DataError(f"output {target!r}: cannot create its folder: {e}") from None
        self.folders += reversed(missing)

    def done(self, out: PartWriter | StagedBytes) -> None:
        if self.together:
            self.staged.append(out)
        else:
            out.commit()

    def commit(self) -> None:
        try:
            for s in self.staged:
                s.commit()
        except BaseException:
            for s in self.staged:
                s.uncommit()
            raise

    def discard(self) -> None:
        for s in self.staged:
            s.discard()
        for d in reversed(self.folders):
            try:
                os.rmdir(d)  # only if empty
            except OSError:
                pass


def score(
    model: Any,
    source: str | os.PathLike[str],
    sink: str | os.PathLike[str],
    *,
    id_columns: Sequence[str] | None = None,
    output: str | Sequence[str] = "value",
    batch_rows: int = 131072,
    device: str = "cpu",
    profile: str | os.PathLike[str] | None = None,
    profile_reference: Any = None,
    resume: bool = False,
    input_format: str | None = None,
    output_format: str | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    init_score_column: str | None = None,
) -> ScoreSummary:
    """Score ``source`` with ``model`` and write the predictions to ``sink``.

    model: a Booster or the path of a model file (sapwood, LightGBM text or XGBoost
        JSON/UBJSON).
    source: a Parquet, CSV or Arrow IPC file, a folder of them, or a glob.
    sink: the output file, in the format its name says (``.parquet``/``.pq``, ``.csv``,
        ``.csv.gz``, ``.arrow``/``.feather``/``.ipc``; another name needs ``output_format``);
        a folder when the source is a folder or a glob (one part per input file, named after
        it) or when ``sink`` ends with "/". It must not be, or lie inside, an input.
    id_columns: input columns copied to the output before the predictions.
    output: "value" (probabilities / predictions) or "raw" (margins) for the prediction
        columns, plus "leaf" and/or "contrib" extras, comma-separated ("value,contrib").
        Columns: ``prediction`` (``prediction_<k>`` per class), ``leaf_<t>``,
        ``contrib_<feature>`` / ``contrib_bias`` (``contrib_<k>_<feature>``).
    batch_rows: rows per record batch; memory grows with it, not with the input.
    device: "cpu" or "cuda".
    profile: write the monitoring profile of the scored rows (features and predictions) here.
    profile_reference: a Profile (or its JSON path) whose bin edges the profile counts on, so
        it compares with that reference; default: the model's ``reference_profile`` if it
        carries one, else edges fitted on the first batch.
    resume: skip output parts that are already complete.
    input_format: "parquet", "csv" or "ipc" (default: from each input's name).
    output_format: "parquet", "csv", "csv.gz" or "ipc" (default: from the output's name; for
        a folder, "parquet").
    n_jobs: threads (default: all cores).
    progress: show a progress bar (default: when stderr is a terminal).
    init_score_column: an input column of per-row offsets added to the raw margin (for a model
        trained with ``init_score``, e.g. log exposure); models with one output only. A
        missing or non-finite offset is an error naming its row.

    Raises a SapwoodError naming the file, batch and column at fault; no output is left at
    the output path of a part that failed, and with a profile a failed job leaves none of
    its outputs.
    """
    t0 = time.perf_counter()
    require("pyarrow", "scoring files")
    booster = _load_model(model)
    if not booster.feature_names:
        raise ParameterError("the model has no features; train it first")
    kinds = parse_kinds(output)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ParameterError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    if device not in ("cpu", "cuda"):
        raise ParameterError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and ("leaf" in kinds or "contrib" in kinds):
        raise ParameterError("device='cuda' scores value/raw outputs only")
    if input_format is not None and input_format not in ("parquet", "csv", "ipc"):
        raise ParameterError(
            f"input_format must be 'parquet', 'csv' or 'ipc', got {input_format!r}"
        )
    if init_score_column is not None:
        if not isinstance(init_score_column, str) or not init_score_column:
            raise ParameterError(f"init_score_column must be a column name, got "
                                 f"{init_score_column!r}")
        if booster.num_outputs != 1:
            raise ParameterError(f"init_score_column gives one offset per row; this model has "
                                 f"{booster.num_outputs} outputs")
        if init_score_column in booster.feature_names:
            raise ParameterError(f"init_score_column {init_score_column!r} is one of the "
                                 "model's features")
    ids = [str(c) for c in (id_columns or ())]
    pred_names = set(prediction_columns(booster, kinds))
    clash = [c for c in ids if c in pred_names]
    if clash:
        raise ParameterError(f"id column(s) {clash} clash with the prediction column names")
    if device == "cuda":
        _check_cuda()
    profile_path = os.fspath(profile) if profile is not None else None
    job = plan(os.fspath(source), os.fspath(sink), output_format,
               other_outputs=[profile_path] if profile_path is not None else [])
    if profile_path is not None and any(
            os.path.realpath(p.target) == os.path.realpath(profile_path) for p in job.parts):
        raise ParameterError(f"profile {profile_path!r} is also an output part")
    summary = ScoreSummary()
    todo: list[Part] = []
    for p in job.parts:
        if resume and part_complete(p, input_format, job.output_format):
            remove_stale_temporaries(p.target)
            summary.parts_skipped += 1
            summary.outputs.append(p.target)
        else:
            todo.append(p)
    profiler = Profiler(booster, n_jobs, profile_reference) if profile is not None else None
    bar, tick = _progress_bar(count_rows(todo, input_format) if progress is not False else None,
                              progress)
    outputs = _Outputs(together=profiler is not None)
    try:
        for p in todo:
            part = PartJob(booster, p, in_format=input_format, out_format=job.output_format,
                           id_columns=ids, kinds=kinds, batch_rows=batch_rows, device=device,
                           n_jobs=n_jobs, profiler=profiler, progress=tick,
                           init_score_column=init_score_column)
            outputs.make_folder(p.target)
            remove_stale_temporaries(p.target)
            writer = PartWriter(p.target, job.output_format, ids)
            try:
                summary.rows += part.run(writer)
                outputs.done(writer)
            except BaseException:
                writer.discard()
                raise
            summary.batches += part.batch
            summary.parts_written += 1
            summary.outputs.append(p.target)
        if profiler is not None and profile_path is not None:
            summary.profile = profile_path
            data = profiler.to_bytes()
            if data is not None:
                outputs.make_folder(profile_path)
                remove_stale_temporaries(profile_path)
                outputs.done(StagedBytes(profile_path, data))
        outputs.commit()
    except BaseException:
        outputs.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - t0
    summary.peak_memory_mb = _peak_rss_mb()
    return summary


def _check_cuda() -> None:
    from ..model.gpu import _require_cuda

    _require_cuda()
