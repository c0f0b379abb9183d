"""The scoring pipeline of one part: a reader thread, the scorers and a writer thread overlap.

The reader pulls record batches from the input (:class:`~.inputs.PartInput`) into a small
bounded queue; this thread hands each batch to a scorer (up to 4 batches side by side on the
CPU, one thread each on small machines) and puts the results back in input order into a
second queue; the writer thread writes them to the part's temporary
(:class:`~.outputs.PartWriter`). Wall time approaches the slowest of the three and memory is
a few batches' worth. Predictions-only CPU jobs score each batch's Arrow buffers in place.

A failure in any stage stops the others; the caller commits or discards the output.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._params import resolve_n_jobs
from ..errors import DataError, SapwoodError, SchemaError
from ..frame.columns import ArrowColumn
from ..frame.readers import input_format
from .inputs import PartInput
from .outputs import PartWriter, arrow_array, output_schema, prediction_columns
from .plan import Part
from .profiling import Profiler

__all__ = ["PartJob", "scorer_layout"]

_QUEUE_DEPTH = 2  # batches in flight between two stages: memory stays a few batches' worth
# Test hook: seconds the writer sleeps after each batch (lets a test kill a run mid-way).
_WRITE_DELAY_ENV = "SAPWOOD_SCORE_TEST_WRITE_DELAY"
# (tests) after each batch written, wait until this path exists (at most 5 minutes), so that a
# test can hold a run mid-output however slow or fast the machine is
_WRITE_GATE_ENV = "SAPWOOD_SCORE_TEST_WRITE_GATE"


# ---------------------------------------------------------------------------- the model
# The Booster's column path (one float32 array per feature, read in place) is private to
# the model package for now; these two functions are the only places scoring reaches it.
def _reads_columns(booster: Any) -> bool:
    return bool(booster.columns_kernel)


def _predict_columns(booster: Any, columns: list[np.ndarray], output: str,
                     n_jobs: int | None) -> np.ndarray:
    pred: np.ndarray = booster.predict_columns(columns, output, n_jobs)
    return pred


# ---------------------------------------------------------------------------- stages
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


def scorer_layout(device: str, n_jobs: int | None) -> tuple[int, int]:
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


class _Pending(NamedTuple):
    """A batch being scored: its number, first row, rows, the input batch and the future of
    (prediction columns, predictions, features)."""

    number: int
    row0: int
    rows: int
    batch: Any
    job: concurrent.futures.Future[Any]


class _Stages:
    """The reader and writer threads of one part and the queues between them and the scorer."""

    def __init__(self, job: PartJob, names: list[str], output: PartWriter) -> None:
        self.stop = threading.Event()
        self.q_in: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
        self.q_out: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
        self.write_errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=job._read, args=(names, self.q_in, self.stop),
                             name="sapwood-score-reader", daemon=True),
            threading.Thread(target=job._write,
                             args=(output, self.q_out, self.stop, self.write_errors),
                             name="sapwood-score-writer", daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        """Wait for both threads to end; raise the writer's error if it failed."""
        for t in self.threads:
            t.join()
        if self.write_errors:
            raise self.write_errors[0]

    def abort(self) -> None:
        self.stop.set()
        for t in self.threads:
            if t.ident is not None:  # started (an interrupt may land in between)
                t.join(timeout=30)


class PartJob:
    """One part: read ``part.source``, score it, write the predictions into a PartWriter."""

    def __init__(self, booster: Any, part: Part, *, in_format: str | None, out_format: str,
                 id_columns: list[str], kinds: list[str], batch_rows: int, device: str,
                 n_jobs: int | None, profiler: Profiler | None,
                 progress: Callable[[int], None] | None,
                 init_score_column: str | None = None) -> None:
        self.booster = booster
        # per-row offsets added to the raw margin (a model trained with init_score)
        self.init_col = init_score_column
        self.part = part
        self.in_format = input_format(part.source, in_format)
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
        categorical = list(getattr(booster, "categorical_features", None) or [])
        self.booster_has_categorical = bool(categorical)
        # features the model trained as bool (a CSV spells them true/false)
        bools = [s["name"] for s in (getattr(booster, "schema", None) or [])
                 if s.get("kind") == "bool"]
        self.input = PartInput(part.source, self.in_format, features=self.features,
                               categorical=categorical, bools=bools, id_columns=id_columns,
                               batch_rows=batch_rows, device=device)
        # Predictions only, on the CPU, by a forest that reads separate float32 columns: the
        # batch's Arrow buffers are scored in place (no copy into a feature matrix).
        self.direct = (device == "cpu" and profiler is None and set(kinds) <= {"value", "raw"}
                       and not self.booster_has_categorical and init_score_column is None
                       and _reads_columns(booster))
        self.out_schema: Any = None
        self.batch = 0  # index of the batch being processed (for messages)
        self.row0 = 0
        self.rows = 0

    def _where(self, batch: int | None = None, rows: tuple[int, int] | None = None,
               column: str | None = None) -> str:
        return self.input.where(batch, rows, column)

    # ------------------------------------------------------------------ the part
    def run(self, output: PartWriter) -> int:
        """Stream the part into ``output`` (opened and closed here, not committed); returns
        the rows scored. On failure every stage is stopped before the error propagates."""
        schema = self.input.schema()
        self.input.check_schema(schema)
        if self.init_col is not None and self.init_col not in schema.names:
            raise SchemaError(f"{self._where(0, None, self.init_col)}: init score column "
                              "missing from the input")
        self.out_schema = output_schema(self.booster, self.kinds, self.id_columns, schema)
        output.open(self.out_schema)
        stages = _Stages(self, list(schema.names), output)
        ok = False
        try:
            stages.start()
            self._score_all(stages)
            stages.join()
            output.close()
            ok = True
            return self.row0
        finally:
            if not ok:
                stages.abort()

    def _score_all(self, stages: _Stages) -> None:
        """Takes batches from the reader, scores them (side by side when several scorers),
        hands the results to the writer in input order, then the end marker."""
        workers, per_worker = scorer_layout(self.device, self.n_jobs)
        pool: Any = concurrent.futures.ThreadPoolExecutor(workers, "sapwood-score") \
            if workers > 1 else _InlineExecutor()
        pending: collections.deque[_Pending] = collections.deque()  # oldest first
        spare: list[np.ndarray] = []  # feature buffers of finished batches, reused
        try:
            while True:
                item = _get(stages.q_in, stages.stop)
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
                pending.append(_Pending(self.batch, self.row0, n, item, job))
                self.batch += 1
                self.row0 += n
                if len(pending) >= workers:
                    self._finish(pending.popleft(), spare, stages)
            while pending:
                self._finish(pending.popleft(), spare, stages)
            _put(stages.q_out, _END, stages.stop)
        except _Stop:
            pass
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _finish(self, p: _Pending, spare: list[np.ndarray], stages: _Stages) -> None:
        """The oldest batch's results: profiled, its buffer kept for reuse, sent to the writer."""
        import pyarrow as pa

        try:
            cols, pred, X = p.job.result()
        except SapwoodError as e:
            if getattr(e, "located", False):
                raise
            raise type(e)(f"{self._where(p.number, (p.row0, p.row0 + p.rows))}: {e}") from None
        if self.profiler is not None:
            self.profiler.add(X, pred)
        if isinstance(X, np.ndarray):
            spare.append(X.base if X.base is not None else X)
        arrays = [p.batch.column(c) for c in self.id_columns]
        arrays += [arrow_array(a) for _, a in cols]
        _put(stages.q_out, pa.RecordBatch.from_arrays(arrays, schema=self.out_schema),
             stages.stop)
        if self.progress is not None:
            self.progress(p.rows)

    # ------------------------------------------------------------------ reader / writer
    def _read(self, names: list[str], q: queue.Queue[Any], stop: threading.Event) -> None:
        import pyarrow as pa

        cols = list(dict.fromkeys([*self.id_columns, *self.features,
                                   *([self.init_col] if self.init_col else [])]))
        i = 0
        try:
            for b in self.input.batches(cols):
                if b.num_rows == 0:
                    continue
                _put(q, b, stop)
                i += 1
            _put(q, _END, stop)
        except _Stop:
            return
        except (pa.ArrowException, OSError) as e:
            err = self.input.read_error(e, i, names)
            try:
                _put(q, _Failure(err), stop)
            except _Stop:
                pass
        except BaseException as e:  # noqa: BLE001 - carried to the scoring thread
            try:
                _put(q, _Failure(e), stop)
            except _Stop:
                pass

    def _write(self, output: PartWriter, q: queue.Queue[Any], stop: threading.Event,
               errors: list[BaseException]) -> None:
        delay = float(os.environ.get(_WRITE_DELAY_ENV, "0") or 0)
        gate = os.environ.get(_WRITE_GATE_ENV, "")
        try:
            while True:
                item = _get(q, stop)
                if item is _END:
                    return
                output.write(item)
                if delay:
                    time.sleep(delay)
                if gate:
                    until = time.monotonic() + 300
                    while not os.path.exists(gate) and time.monotonic() < until:
                        time.sleep(0.01)
        except _Stop:
            return
        except BaseException as e:  # noqa: BLE001 - carried to the scoring thread
            errors.append(e)
            stop.set()

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

        offset = self._offsets(batch, index, row0)
        if self.booster_has_categorical:
            # categories map by value through the model's schema (Booster.predict)
            X: Any = pa.Table.from_batches([batch]).select(self.features)
            return (*self._score(X, n_jobs, offset), X)
        vals = self._feature_columns(batch, index, row0)
        if self.direct:
            primary = "raw" if "raw" in self.kinds else "value"
            pred = _predict_columns(self.booster, vals, primary, n_jobs)
            return self._prediction_columns(pred), pred, None
        n = batch.num_rows
        if buf is None or n > buf.shape[1]:
            buf = np.empty((len(self.features), max(n, self.batch_rows)), dtype=np.float32)
        out = buf[:, :n]
        for j, v in enumerate(vals):
            out[j, :] = v
        X = out.T
        return (*self._score(X, n_jobs, offset), X)

    def _offsets(self, batch: Any, index: int, row0: int) -> np.ndarray | None:
        """The batch's init score column as float64 (a missing value is an error)."""
        if self.init_col is None:
            return None
        import pyarrow as pa

        n = batch.num_rows
        try:
            off = ArrowColumn(self.init_col, batch.column(self.init_col)).float64()
        except (pa.ArrowException, DataError) as e:
            err = DataError(f"{self._where(index, (row0, row0 + n), self.init_col)}: cannot be "
                            f"converted to float64: {e}")
            err.located = True  # type: ignore[attr-defined]
            raise err from None
        bad = np.flatnonzero(~np.isfinite(off))
        if bad.size:
            err = DataError(f"{self._where(index, (row0, row0 + n), self.init_col)}: init score "
                            f"at row {row0 + int(bad[0])} is missing or not finite")
            err.located = True  # type: ignore[attr-defined]
            raise err
        return off

    def _score(self, X: Any, n_jobs: int | None,
               offset: np.ndarray | None = None) -> tuple[list[tuple[str, np.ndarray]],
                                                          np.ndarray]:
        b = self.booster
        k = b.num_outputs
        kw: dict[str, Any] = {"n_jobs": n_jobs}
        if self.device != "cpu":
            kw["device"] = self.device
        if offset is not None:
            kw["init_score"] = offset
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
