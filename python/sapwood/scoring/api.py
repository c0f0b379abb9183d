"""Batch scoring jobs: stream record batches from files, score them, write predictions.

``score(model, source, sink)`` reads Parquet, CSV or Arrow IPC input (a file, a folder or a
glob) through pyarrow's per-format readers, one record batch at a time, and writes Parquet or
CSV output.
A reader thread, the scorer (this thread; the predictor releases the GIL and uses its own
threads) and a writer thread overlap through small bounded queues, so wall time approaches the
slowest of the three and peak memory depends on the batch size, not on the input size.

Output rows follow input rows, one output file ("part") per input file. Each part is written
to a hidden temporary name in the destination folder (``.<name>.<pid>.sapwood-tmp``) and
renamed over the final name only when complete: a failed, interrupted or killed job leaves no
file at the output path, and the next run removes such temporaries. ``resume=True`` skips
parts that are already complete.
"""

from __future__ import annotations

import collections
import concurrent.futures
import glob as _glob
import json
import os
import queue
import re
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._params import resolve_n_jobs
from ..errors import DataError, ParameterError, SapwoodError, SchemaError
from ..frame import readers as _readers
from ..frame.columns import ArrowColumn
from ..frame.names import check_unique

__all__ = ["score", "ScoreSummary", "OUTPUT_KINDS", "TMP_SUFFIX", "prediction_columns"]

OUTPUT_KINDS = ("value", "raw", "leaf", "contrib")
TMP_SUFFIX = ".sapwood-tmp"
_INPUT_FORMATS = _readers.INPUT_FORMATS
_OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".parq": "parquet", ".csv": "csv"}
_QUEUE_DEPTH = 2  # batches in flight between two stages: memory stays a few batches' worth
# Test hook: seconds the writer sleeps after each batch (lets a test kill a run mid-way).
_WRITE_DELAY_ENV = "SAPWOOD_SCORE_TEST_WRITE_DELAY"


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


# ---------------------------------------------------------------------------- planning
@dataclass
class _Part:
    source: str  # input file
    target: str  # final output path


def _input_format(path: str, given: str | None) -> str:
    return _readers.input_format(path, given)  # one table of extensions (sapwood.frame)


def _is_data_file(path: str) -> bool:
    return _readers.is_data_file(path)


def _list_inputs(source: str) -> tuple[list[str], str | None]:
    """(input files, their base folder or None for a single file)."""
    return _readers.list_inputs(source)


def _output_format(target: str, given: str | None) -> str:
    if given is not None:
        if given not in ("parquet", "csv"):
            raise ParameterError(f"output_format must be 'parquet' or 'csv', got {given!r}")
        return given
    return _OUTPUT_FORMATS.get(Path(target).suffix.lower(), "parquet")


def _plan(source: str, sink: str, output_format: str | None) -> tuple[list[_Part], str]:
    files, base = _list_inputs(source)
    folder_out = base is not None or sink.endswith(("/", os.sep)) or os.path.isdir(sink)
    if not folder_out:
        return [_Part(files[0], sink)], _output_format(sink, output_format)
    fmt = output_format or "parquet"
    if fmt not in ("parquet", "csv"):
        raise ParameterError(f"output_format must be 'parquet' or 'csv', got {fmt!r}")
    parts = []
    seen: set[str] = set()
    for f in files:
        rel = os.path.relpath(os.path.abspath(f), base) if base else os.path.basename(f)
        stem = rel[: -3] if rel.lower().endswith(".gz") else rel
        stem = os.path.splitext(stem)[0]
        target = os.path.join(sink, stem + "." + fmt)
        if target in seen:
            raise ParameterError(f"two inputs would write the same part {target!r}")
        seen.add(target)
        parts.append(_Part(f, target))
    return parts, fmt


def _tmp_prefix(target: str) -> str:
    d, name = os.path.split(target)
    return os.path.join(d, "." + name + ".")


def _tmp_name(target: str) -> str:
    return f"{_tmp_prefix(target)}{os.getpid()}.{threading.get_ident() % 100000}{TMP_SUFFIX}"


def _remove_stale_temporaries(target: str) -> list[str]:
    """Temporaries left by killed runs for this part (named .<name>.<pid>...sapwood-tmp)."""
    removed = []
    prefix = _tmp_prefix(target)
    for p in _glob.glob(_glob.escape(prefix) + "*" + TMP_SUFFIX):
        try:
            os.remove(p)
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


# ---------------------------------------------------------------------------- outputs
def prediction_columns(booster: Any, kinds: Sequence[str]) -> list[str]:
    """Names of the columns ``score`` writes for these output kinds (after the id columns)."""
    k = booster.num_outputs
    names = ["prediction"] if k == 1 else [f"prediction_{j}" for j in range(k)]
    if "leaf" in kinds:
        names += [f"leaf_{t}" for t in range(_num_scored_trees(booster))]
    if "contrib" in kinds:
        feats = [*booster.feature_names, "bias"]
        if k == 1:
            names += [f"contrib_{f}" for f in feats]
        else:
            names += [f"contrib_{j}_{f}" for j in range(k) for f in feats]
    return names


def _num_scored_trees(booster: Any) -> int:
    rounds = booster.best_iteration or booster.num_rounds
    return int(rounds * booster.num_outputs)


def _parse_kinds(output: str | Sequence[str]) -> list[str]:
    kinds = [s.strip() for s in output.split(",")] if isinstance(output, str) else list(output)
    bad = [s for s in kinds if s not in OUTPUT_KINDS]
    if bad or not kinds:
        raise ParameterError(
            f"output must be one or more of {', '.join(OUTPUT_KINDS)} (comma-separated), "
            f"got {output!r}"
        )
    if "value" in kinds and "raw" in kinds:
        raise ParameterError("output: choose 'value' or 'raw' for the prediction, not both")
    return kinds


# ---------------------------------------------------------------------------- pipeline
class _Stop(Exception):
    """Another stage failed; this one stops quietly."""


class _End:
    pass


_END = _End()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Any], stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return q.get(timeout=0.05)
        except queue.Empty:
            continue


_CSV_COLUMN_RE = re.compile(r"CSV column #(\d+)")
_CSV_ROW_RE = re.compile(r"Row #(\d+)")
_IN_COLUMN_RE = re.compile(r"column '([^']+)'|column \"([^\"]+)\"|column ([A-Za-z_][\w.]*)")


def _arrow_array(a: np.ndarray) -> Any:
    """A 1-D numpy array of numbers as an Arrow array, sharing its memory.

    ``pyarrow.array`` first asks whether the object is a pandas Series, which imports pandas
    (about half a second of a scoring job)."""
    import pyarrow as pa

    a = np.ascontiguousarray(a)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(a), [None, pa.py_buffer(a)])


class _InlineExecutor:
    """The one-scorer case of the job's executor: runs each batch at once, on this thread."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        f: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            f.set_result(fn(*args))
        except Exception as e:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(e)
        return f

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _scorer_layout(device: str, n_jobs: int | None) -> tuple[int, int]:
    """(batches scored at once, threads per batch) for a job of ``n_jobs`` threads.

    On the CPU, batches are scored side by side rather than one at a time across all threads:
    the reader and writer threads share the cores with the scorer, and a multi-threaded
    predict waits at its end for its slowest thread, which OpenMP does by spinning (a
    millisecond or more per call, with a core taken from the reader or writer). Up to 4
    batches at once bounds the memory in flight; bigger machines give each more threads.
    """
    threads = resolve_n_jobs(n_jobs)
    if device != "cpu" or threads <= 1:
        return 1, threads
    workers = min(threads, 4)
    return workers, max(1, threads // workers)


class _Job:
    """One part: read ``source``, score, write ``target`` atomically."""

    def __init__(self, booster: Any, part: _Part, *, in_format: str | None, out_format: str,
                 id_columns: list[str], kinds: list[str], batch_rows: int, device: str,
                 n_jobs: int | None, profiler: _Profiler | None,
                 progress: Callable[[int], None] | None) -> None:
        self.booster = booster
        self.part = part
        self.in_format = _input_format(part.source, in_format)
        self.out_format = out_format
        self.id_columns = id_columns
        self.kinds = kinds
        self.batch_rows = batch_rows
        self.device = device
        self.n_jobs = n_jobs
        self.profiler = profiler
        self.progress = progress
        self.features: list[str] = list(booster.feature_names)
        # categories map by value through the model (Booster.predict on the batch's table)
        self.booster_has_categorical = bool(getattr(booster, "categorical_features", None))
        # Predictions only, on the CPU, by a forest that reads separate float32 columns: the
        # batch's Arrow buffers are scored in place (no copy into a feature matrix).
        self.direct = (device == "cpu" and profiler is None and set(kinds) <= {"value", "raw"}
                       and not self.booster_has_categorical
                       and booster.columns_kernel)
        self.batch = 0  # index of the batch being processed (for messages)
        self.row0 = 0
        self.rows = 0

    # ------------------------------------------------------------------ errors
    def _where(self, batch: int | None = None, rows: tuple[int, int] | None = None,
               column: str | None = None) -> str:
        s = f"input {self.part.source!r}"
        if batch is not None:
            s += f", batch {batch}"
            if rows is not None:
                s += f" (rows {rows[0]}-{rows[1] - 1})"
        if column is not None:
            s += f", column {column!r}"
        return s

    def _column_from_arrow(self, msg: str, names: Sequence[str]) -> str | None:
        m = _CSV_COLUMN_RE.search(msg)
        if m:
            i = int(m.group(1))
            if 0 <= i < len(names):
                return names[i]
        m = _IN_COLUMN_RE.search(msg)
        if m:
            return next(g for g in m.groups() if g)
        return None

    # ------------------------------------------------------------------ reading
    def _schema(self) -> Any:
        """The input's Arrow schema, read from the file's metadata (CSV: its first block).

        Read straight from the per-format readers: ``pyarrow.dataset`` would import pandas
        (about a second of a scoring job's start-up) and is not needed to stream one file.
        """
        import pyarrow as pa

        src = self.part.source
        try:
            if self.in_format == "parquet":
                import pyarrow.parquet as pq

                return pq.ParquetFile(src).schema_arrow
            if self.in_format == "ipc":
                return _ipc_schema(src)
            if self.in_format == "csv":
                import pyarrow.csv as pacsv

                parse, convert, read = self._csv_options()
                return pacsv.open_csv(pa.input_stream(src), read_options=read,
                                      parse_options=parse, convert_options=convert).schema
        except (pa.ArrowException, OSError) as e:
            # CSV: the schema is inferred from the first block, so a bad value there fails here.
            raise self._read_error(e, 0, self._csv_header()) from None
        raise ParameterError(
            f"input_format must be 'parquet', 'csv' or 'ipc', got {self.in_format!r}"
        )

    def _csv_options(self, columns: list[str] | None = None) -> tuple[Any, Any, Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Numeric features are read as float64 whatever the first block looks like (a later
        # "1.5" after integer-looking rows must not fail), then rounded to float32 as every
        # other source is (parsing straight to float32 can round differently); features the
        # model trained as bool parse true/false/True/False/1/0. Empty fields are nulls (NaN).
        delim = _readers.csv_delimiter(self.part.source)
        # (Categorical features keep their inferred type: they map by value.)
        cats = set(getattr(self.booster, "categorical_features", None) or [])
        bools = {s["name"] for s in (getattr(self.booster, "schema", None) or [])
                 if s.get("kind") == "bool"}
        convert = pacsv.ConvertOptions(
            column_types={f: pa.bool_() if f in bools else pa.float64()
                          for f in self.features if f not in cats},
            strings_can_be_null=True)
        if columns is not None:
            convert.include_columns = columns
        return (pacsv.ParseOptions(delimiter=delim), convert,
                pacsv.ReadOptions(block_size=1 << 22))

    def _csv_header(self) -> list[str]:
        if self.in_format != "csv":
            return []
        import csv
        import gzip

        try:
            opener: Any = gzip.open if self.part.source.lower().endswith(".gz") else open
            with opener(self.part.source, "rt", newline="", encoding="utf-8") as f:
                delim = _readers.csv_delimiter(self.part.source)
                return next(csv.reader(f, delimiter=delim), [])
        except (OSError, UnicodeDecodeError, csv.Error):
            return []

    def _read_error(self, e: BaseException, batch: int, names: Sequence[str]) -> DataError:
        """A reading error naming the file, batch (from the row when Arrow names it) and column."""
        msg = str(e).strip()
        col = self._column_from_arrow(msg, names)
        rows = None
        m = _CSV_ROW_RE.search(msg)
        if m and self.in_format == "csv":
            row = int(m.group(1)) - 2  # Arrow counts lines from 1, the header included
            if row >= 0:
                rows = (row, row + 1)
        where = self._where(batch, None, col)
        if rows is not None:
            where += f", row {rows[0]}"
        return DataError(f"{where}: cannot be read: {msg}")

    def _check_schema(self, schema: Any) -> None:
        import pyarrow as pa

        names = set(schema.names)
        used = set(self.features) | set(self.id_columns)
        # columns are taken by name: a duplicated one would be ambiguous (pyarrow: KeyError)
        check_unique([n for n in schema.names if n in used], self._where())
        categorical = set(getattr(self.booster, "categorical_features", None) or [])
        for col in self.features:
            if col in categorical:  # strings/categories map through the model's schema
                if col not in names:
                    raise SchemaError(
                        f"{self._where(0, None, col)}: missing from the input (the model needs "
                        f"{len(self.features)} feature columns; the input has "
                        f"{schema.names[:20]})")
                continue
            if col not in names:
                raise SchemaError(
                    f"{self._where(0, None, col)}: missing from the input (the model needs "
                    f"{len(self.features)} feature columns; the input has {schema.names[:20]})"
                )
            t = schema.field(col).type
            if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t) or pa.types.is_null(t)):
                raise SchemaError(
                    f"{self._where(0, None, col)}: has type {t}, but model features must be "
                    "numeric (float, integer or boolean)"
                )
        for col in self.id_columns:
            if col not in names:
                raise SchemaError(f"{self._where(0, None, col)}: id column missing from the input")

    def _batches(self, cols: list[str]) -> Iterator[Any]:
        """Record batches of ``cols``, read on demand (pull-based).

        The dataset scanner reads ahead of a slow consumer without bound (here it buffered
        900 MB of a 2 GB file while the scorer worked), so batches are pulled from
        per-format readers, which read only when asked: memory stays a few batches' worth.
        """
        import pyarrow as pa

        n = self.batch_rows
        if self.in_format == "parquet":
            import pyarrow.parquet as pq

            # Small buffered reads and, on small machines, one decoding thread: there the
            # predictor already keeps every core busy, and pyarrow's decode threads cost more
            # CPU than they save (10M x 32 float32 rows: 2.1 s CPU single-threaded against
            # 2.5-3.8 s threaded). A GPU job, or a big machine, wants the parallel decode.
            pf = pq.ParquetFile(self.part.source, pre_buffer=False, buffer_size=1 << 16)
            threads = self.device != "cpu" or (os.cpu_count() or 1) > 4
            yield from pf.iter_batches(batch_size=n, columns=cols, use_threads=threads)
            return
        if self.in_format == "ipc":
            with pa.memory_map(self.part.source) as src:
                for b in _ipc_reader(src)[1]:
                    b = b.select(cols)
                    for off in range(0, b.num_rows, n):
                        yield b.slice(off, n)
            return
        import pyarrow.csv as pacsv

        parse, convert, read = self._csv_options(cols)
        reader = pacsv.open_csv(pa.input_stream(self.part.source), read_options=read,
                                parse_options=parse, convert_options=convert)
        for b in reader:
            for off in range(0, b.num_rows, n):
                yield b.slice(off, n)

    def _read(self, names: list[str], q: queue.Queue[Any], stop: threading.Event) -> None:
        import pyarrow as pa

        cols = list(dict.fromkeys([*self.id_columns, *self.features]))
        i = 0
        try:
            for b in self._batches(cols):
                if b.num_rows == 0:
                    continue
                _put(q, b, stop)
                i += 1
            _put(q, _END, stop)
        except _Stop:
            return
        except (pa.ArrowException, OSError) as e:
            err = self._read_error(e, i, names)
            try:
                _put(q, _Failure(err), stop)
            except _Stop:
                pass
        except BaseException as e:  # noqa: BLE001 - carried to the scoring thread
            try:
                _put(q, _Failure(e), stop)
            except _Stop:
                pass

    # ------------------------------------------------------------------ scoring
    def _feature_columns(self, batch: Any, index: int, row0: int) -> list[np.ndarray]:
        """The batch's features as float32 arrays by the column layer's rules (float32
        buffers read in place; other types cast, nulls NaN). Errors name batch ``index``,
        whose first row is ``row0``, and are marked as located."""
        import pyarrow as pa

        n = batch.num_rows
        out = []
        for name in self.features:
            try:
                vals = ArrowColumn(name, batch.column(name)).float32()
            except (pa.ArrowException, DataError) as e:
                err = DataError(
                    f"{self._where(index, (row0, row0 + n), name)}: cannot be "
                    f"converted to float32: {e}"
                )
                err.located = True  # type: ignore[attr-defined]
                raise err from None
            out.append(vals)
        return out

    def _score_batch(self, batch: Any, buf: np.ndarray | None, index: int, row0: int,
                     n_jobs: int | None) -> tuple[list[tuple[str, np.ndarray]], np.ndarray, Any]:
        """Scores one batch on a scorer thread: its Arrow buffers in place (``direct``), else
        a float32 (n, F) Fortran-ordered matrix filled in ``buf`` (numpy releases the GIL for
        the copy), else, when the model has categorical features, a table of the features.
        Returns the prediction columns, the predictions and the features (None when direct)."""
        import pyarrow as pa

        if self.booster_has_categorical:
            # categories map by value through the model's schema (Booster.predict)
            X: Any = pa.Table.from_batches([batch]).select(self.features)
            return (*self._score(X, n_jobs), X)
        vals = self._feature_columns(batch, index, row0)
        if self.direct:
            primary = "raw" if "raw" in self.kinds else "value"
            pred = self.booster.predict_columns(vals, primary, n_jobs)
            return self._prediction_columns(pred), pred, None
        n = batch.num_rows
        if buf is None or n > buf.shape[1]:
            buf = np.empty((len(self.features), max(n, self.batch_rows)), dtype=np.float32)
        out = buf[:, :n]
        for j, v in enumerate(vals):
            out[j, :] = v
        X = out.T
        return (*self._score(X, n_jobs), X)

    def _score(self, X: Any, n_jobs: int | None) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
        b = self.booster
        k = b.num_outputs
        kw: dict[str, Any] = {"n_jobs": n_jobs}
        if self.device != "cpu":
            kw["device"] = self.device
        primary = "raw" if "raw" in self.kinds else "value"
        pred = np.asarray(b.predict(X, output=primary, **kw))
        cols = self._prediction_columns(pred)
        names = prediction_columns(b, self.kinds)
        pos = k
        if "leaf" in self.kinds:
            leaf = np.asarray(b.predict(X, output="leaf", n_jobs=n_jobs))
            for t in range(leaf.shape[1]):
                cols.append((names[pos + t], np.ascontiguousarray(leaf[:, t])))
            pos += leaf.shape[1]
        if "contrib" in self.kinds:
            c = np.asarray(b.predict(X, output="contrib", n_jobs=n_jobs))
            c = c.reshape(c.shape[0], -1)
            for t in range(c.shape[1]):
                cols.append((names[pos + t], np.ascontiguousarray(c[:, t])))
        return cols, pred

    def _prediction_columns(self, pred: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The output columns of the predictions (one per class for multiclass)."""
        k = self.booster.num_outputs
        names = prediction_columns(self.booster, self.kinds)
        if k == 1:
            return [(names[0], pred.reshape(-1))]
        return [(names[j], np.ascontiguousarray(pred[:, j])) for j in range(k)]

    def _out_schema(self, in_schema: Any) -> Any:
        import pyarrow as pa

        fields = [in_schema.field(c) for c in self.id_columns]
        k = self.booster.num_outputs
        names = prediction_columns(self.booster, self.kinds)
        n_leaf = _num_scored_trees(self.booster) if "leaf" in self.kinds else 0
        for i, name in enumerate(names):
            is_leaf = k <= i < k + n_leaf
            fields.append(pa.field(name, pa.int32() if is_leaf else pa.float64()))
        return pa.schema(fields)

    # ------------------------------------------------------------------ writing
    def _open_writer(self, path: str, schema: Any) -> Any:
        if self.out_format == "csv":
            import pyarrow.csv as pacsv

            return pacsv.CSVWriter(path, schema)
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Dictionary-encode only columns with few distinct values (string ids, leaf indices).
        # Predictions and numeric ids are near-unique: pyarrow would build a dictionary for
        # each page and then fall back, which cost more CPU than scoring the batch itself
        # (measured: 1.06 s vs 0.12 s to write 2M rows of id + prediction) and made larger files.
        def few_values(f: Any) -> bool:
            if f.name not in self.id_columns:
                return bool(pa.types.is_int32(f.type))  # leaf indices
            t = f.type
            return bool(pa.types.is_string(t) or pa.types.is_large_string(t)
                        or pa.types.is_binary(t) or pa.types.is_dictionary(t)
                        or pa.types.is_boolean(t))

        dict_cols = [f.name for f in schema if few_values(f)]
        return pq.ParquetWriter(path, schema, use_dictionary=dict_cols or False)

    def _write(self, writer: Any, q: queue.Queue[Any], stop: threading.Event,
               errors: list[BaseException]) -> None:
        delay = float(os.environ.get(_WRITE_DELAY_ENV, "0") or 0)
        i = 0
        try:
            while True:
                item = _get(q, stop)
                if item is _END:
                    return
                try:
                    writer.write_batch(item)
                except Exception as e:
                    raise DataError(
                        f"output {self.part.target!r}, batch {i}: cannot be written: {e}"
                    ) from e
                i += 1
                if delay:
                    time.sleep(delay)
        except _Stop:
            return
        except BaseException as e:  # noqa: BLE001 - carried to the scoring thread
            errors.append(e)
            stop.set()

    # ------------------------------------------------------------------ the part
    def run(self) -> int:
        import pyarrow as pa

        schema = self._schema()
        self._check_schema(schema)
        out_schema = self._out_schema(schema)
        target = self.part.target
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        _remove_stale_temporaries(target)
        tmp = _tmp_name(target)
        stop = threading.Event()
        q_in: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
        q_out: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
        write_errors: list[BaseException] = []
        writer = None
        threads: list[threading.Thread] = []
        ok = False
        try:
            try:
                writer = self._open_writer(tmp, out_schema)
            except (OSError, pa.ArrowException) as e:
                raise DataError(f"output {target!r}: cannot be created: {e}") from None
            threads = [
                threading.Thread(target=self._read, args=(list(schema.names), q_in, stop),
                                 name="sapwood-score-reader", daemon=True),
                threading.Thread(target=self._write, args=(writer, q_out, stop, write_errors),
                                 name="sapwood-score-writer", daemon=True),
            ]
            for t in threads:
                t.start()
            workers, per_worker = _scorer_layout(self.device, self.n_jobs)
            pool: Any = concurrent.futures.ThreadPoolExecutor(workers, "sapwood-score") \
                if workers > 1 else _InlineExecutor()
            # Batches being scored, oldest first: (batch index, first row, rows, input batch,
            # future of (prediction columns, predictions, features)). Finished in order, so the
            # output keeps the input's row order.
            pending: collections.deque[tuple[int, int, int, Any, Any]] = collections.deque()
            spare: list[np.ndarray] = []  # feature buffers of finished batches, reused

            def finish() -> None:
                index, row0, n, item, job = pending.popleft()
                try:
                    cols, pred, X = job.result()
                except SapwoodError as e:
                    if getattr(e, "located", False):
                        raise
                    raise type(e)(f"{self._where(index, (row0, row0 + n))}: {e}") from None
                if self.profiler is not None:
                    self.profiler.add(X, pred)
                if isinstance(X, np.ndarray):
                    spare.append(X.base if X.base is not None else X)
                arrays = [item.column(c) for c in self.id_columns]
                arrays += [_arrow_array(a) for _, a in cols]
                _put(q_out, pa.RecordBatch.from_arrays(arrays, schema=out_schema), stop)
                if self.progress is not None:
                    self.progress(n)

            try:
                while True:
                    item = _get(q_in, stop)
                    if item is _END:
                        break
                    if isinstance(item, _Failure):
                        raise item.exc
                    n = item.num_rows
                    # a feature buffer to fill, reused (the scorer makes one if none fits)
                    buf = None
                    if not self.booster_has_categorical and not self.direct and spare:
                        buf = spare.pop()
                    # the features are built on the scorer thread
                    job = pool.submit(self._score_batch, item, buf, self.batch, self.row0,
                                      per_worker)
                    pending.append((self.batch, self.row0, n, item, job))
                    self.batch += 1
                    self.row0 += n
                    if len(pending) >= workers:
                        finish()
                while pending:
                    finish()
                _put(q_out, _END, stop)
            except _Stop:
                pass
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            for t in threads:
                t.join()
            if write_errors:
                raise write_errors[0]
            try:
                writer.close()
                writer = None
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except OSError as e:
                raise DataError(f"output {target!r}: cannot be finished: {e}") from None
            ok = True
            return self.row0
        finally:
            if not ok:
                stop.set()
                for t in threads:
                    if t.ident is not None:  # started (an interrupt may land in between)
                        t.join(timeout=30)
                if writer is not None:
                    try:
                        writer.close()
                    except Exception:  # noqa: BLE001 - already failing; the file goes anyway
                        pass
                try:
                    os.remove(tmp)
                except OSError:
                    pass


# ---------------------------------------------------------------------------- profiles
class _Profiler:
    """Merges per-batch profiles of the features and predictions (on fixed bin edges)."""

    def __init__(self, booster: Any, n_jobs: int | None, reference: Any = None) -> None:
        self.booster = booster
        self.n_jobs = n_jobs
        ref = reference if reference is not None else getattr(booster, "reference_profile",
                                                              None)
        if isinstance(ref, (str, os.PathLike)):
            from ..monitoring.profile import Profile

            ref = Profile.load(os.fspath(ref))
        if ref is not None and not _is_profile(ref):
            from ..monitoring.profile import Profile

            ref = Profile.from_dict(ref)
        self.edges: Any = ref
        self.profile: Any = None

    def add(self, X: Any, pred: np.ndarray) -> None:
        from ..monitoring.profile import Profile

        table = hasattr(X, "column_names")  # an Arrow table (models with categorical features)
        p = Profile.from_data(X if table else np.asarray(X), edges_from=self.edges or self.booster,
                              names=None if table else list(self.booster.feature_names),
                              categorical=getattr(self.booster, "categorical_features", None),
                              predictions=pred, n_jobs=self.n_jobs)
        if self.profile is None:
            self.profile = p
            # Later batches count on the first batch's edges (the reference's where it has the
            # column; fitted on the first batch for the others, e.g. the predictions).
            self.edges = {name: c.edges for name, c in p.columns.items() if hasattr(c, "edges")}
        else:
            self.profile = self.profile.merge(p)


def _is_profile(obj: Any) -> bool:
    return type(obj).__name__ == "Profile"


# ---------------------------------------------------------------------------- entry point
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


def _ipc_reader(src: Any) -> tuple[Any, Iterator[Any]]:
    """(schema, record batches) of a memory-mapped Arrow IPC file, or IPC stream."""
    import pyarrow as pa

    try:
        r = pa.ipc.open_file(src)
        return r.schema, (r.get_batch(i) for i in range(r.num_record_batches))
    except pa.ArrowInvalid:  # the IPC stream format
        src.seek(0)
        s = pa.ipc.open_stream(src)
        return s.schema, iter(s)


def _ipc_schema(path: str) -> Any:
    import pyarrow as pa

    with pa.memory_map(path) as src:
        return _ipc_reader(src)[0]


def _num_rows(path: str, fmt: str) -> int:
    """Rows of a Parquet file (from its metadata) or an Arrow IPC file (memory-mapped)."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with pa.memory_map(path) as src:
        return sum(b.num_rows for b in _ipc_reader(src)[1])


def _count_rows(parts: list[_Part], in_format: str | None) -> int | None:
    """Total input rows when cheap to know (Parquet/IPC metadata), else None."""
    total = 0
    for p in parts:
        fmt = _input_format(p.source, in_format)
        if fmt == "csv":
            return None
        try:
            total += _num_rows(p.source, fmt)
        except Exception:  # noqa: BLE001 - only for the progress bar
            return None
    return total


def _part_complete(part: _Part, in_format: str | None, out_format: str) -> bool:
    """For --resume: the part exists (and, for Parquet in and out, has as many rows)."""
    if not os.path.isfile(part.target):
        return False
    fmt = _input_format(part.source, in_format)
    if out_format != "parquet" or fmt == "csv":
        return True
    try:
        import pyarrow.parquet as pq

        n_out = pq.ParquetFile(part.target).metadata.num_rows
        return bool(n_out == _num_rows(part.source, fmt))
    except Exception:  # noqa: BLE001 - unreadable part: score it again
        return False


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
) -> ScoreSummary:
    """Score ``source`` with ``model`` and write the predictions to ``sink``.

    model: a Booster or the path of a model file (``Booster.save``).
    source: a Parquet, CSV or Arrow IPC file, a folder of them, or a glob.
    sink: the output file (``.parquet`` or ``.csv``); a folder when the source is a folder or
        a glob (one part per input file, named after it) or when ``sink`` ends with "/".
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
    progress: show a progress bar (default: when stderr is a terminal).

    Raises a SapwoodError naming the file, batch and column at fault; no output is left at
    the output path of a part that failed.
    """
    t0 = time.perf_counter()
    booster = _load_model(model)
    if not booster.feature_names:
        raise ParameterError("the model has no features; train it first")
    kinds = _parse_kinds(output)
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
    ids = [str(c) for c in (id_columns or ())]
    pred_names = set(prediction_columns(booster, kinds))
    clash = [c for c in ids if c in pred_names]
    if clash:
        raise ParameterError(f"id column(s) {clash} clash with the prediction column names")
    if device == "cuda":
        _check_cuda()
    parts, out_fmt = _plan(os.fspath(source), os.fspath(sink), output_format)
    summary = ScoreSummary()
    todo: list[_Part] = []
    for p in parts:
        if resume and _part_complete(p, input_format, out_fmt):
            _remove_stale_temporaries(p.target)
            summary.parts_skipped += 1
            summary.outputs.append(p.target)
        else:
            todo.append(p)
    profiler = _Profiler(booster, n_jobs, profile_reference) if profile is not None else None
    bar, tick = _progress_bar(_count_rows(todo, input_format) if progress is not False else None,
                              progress)
    try:
        for p in todo:
            job = _Job(booster, p, in_format=input_format, out_format=out_fmt, id_columns=ids,
                       kinds=kinds, batch_rows=batch_rows, device=device, n_jobs=n_jobs,
                       profiler=profiler, progress=tick)
            summary.rows += job.run()
            summary.batches += job.batch
            summary.parts_written += 1
            summary.outputs.append(p.target)
    finally:
        if bar is not None:
            bar.close()
    if profiler is not None and profile is not None:
        summary.profile = os.fspath(profile)
        if profiler.profile is not None:
            from .._fs import write_bytes

            _remove_stale_temporaries(summary.profile)
            write_bytes(summary.profile, profiler.profile.to_json().encode("utf-8"))
    summary.seconds = time.perf_counter() - t0
    summary.peak_memory_mb = _peak_rss_mb()
    return summary


def _check_cuda() -> None:
    from ..model.gpu import _require_cuda

    _require_cuda()
