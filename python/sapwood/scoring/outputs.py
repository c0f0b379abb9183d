"""The outputs of a scoring job: which columns, in which Arrow types, written by which writer.

- :func:`parse_kinds` / :func:`prediction_columns` / :func:`output_schema`: what a job writes
  for ``output="value,leaf,..."``.
- :data:`OUTPUT_EXTENSIONS` / :func:`format_of_name`: the output format follows the file
  name (``.parquet``, ``.csv``, ``.csv.gz``, ``.arrow``); an unknown name is refused by the
  planner, never written as some default format.
- :class:`PartWriter`: one output file, written to a pid-tagged temporary beside its final
  name (:mod:`sapwood._fs`) and committed (fsync, rename) or discarded as a whole.
- :class:`StagedBytes`: the same for a small file written at once (the profile).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _fs
from ..errors import DataError, ParameterError

__all__ = [
    "OUTPUT_KINDS", "OUTPUT_FORMATS", "OUTPUT_EXTENSIONS", "FORMAT_EXTENSION", "TMP_SUFFIX",
    "format_of_name", "parse_kinds", "prediction_columns", "num_scored_trees",
    "output_schema", "arrow_array", "PartWriter", "StagedBytes",
]

OUTPUT_KINDS = ("value", "raw", "leaf", "contrib")
OUTPUT_FORMATS = ("parquet", "csv", "csv.gz", "ipc")
# File name ending -> output format. Looked up longest ending first (".csv.gz" before ".csv").
OUTPUT_EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".parq": "parquet",
    ".csv": "csv", ".csv.gz": "csv.gz",
    ".arrow": "ipc", ".feather": "ipc", ".ipc": "ipc",
}
# The extension of the parts of a folder output, per format.
FORMAT_EXTENSION = {"parquet": ".parquet", "csv": ".csv", "csv.gz": ".csv.gz", "ipc": ".arrow"}
# The suffix of sapwood._fs temporaries (``.<name>.<pid>.<random>.tmp``), for callers that
# look for left-over temporaries.
TMP_SUFFIX = ".tmp"


def format_of_name(path: str) -> str | None:
    """The output format a file name asks for (by its ending), or None if it names none."""
    name = os.path.basename(path).lower()
    for ext in sorted(OUTPUT_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext) and len(name) > len(ext):
            return OUTPUT_EXTENSIONS[ext]
    return None


# ---------------------------------------------------------------------------- columns
def parse_kinds(output: str | Sequence[str]) -> list[str]:
    """``"value,contrib"`` (or a list) -> the output kinds, checked."""
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


def num_scored_trees(booster: Any) -> int:
    rounds = booster.best_iteration or booster.num_rounds
    return int(rounds * booster.num_outputs)


def prediction_columns(booster: Any, kinds: Sequence[str]) -> list[str]:
    """Names of the columns ``score`` writes for these output kinds (after the id columns)."""
    k = booster.num_outputs
    # by class, or by level for a multi-quantile model (prediction_q0.05, ...)
    names = list(booster.prediction_names)
    if "leaf" in kinds:
        names += [f"leaf_{t}" for t in range(num_scored_trees(booster))]
    if "contrib" in kinds:
        feats = [*booster.feature_names, "bias"]
        if k == 1:
            names += [f"contrib_{f}" for f in feats]
        else:
            names += [f"contrib_{j}_{f}" for j in range(k) for f in feats]
    return names


def output_schema(booster: Any, kinds: Sequence[str], id_columns: Sequence[str],
                  in_schema: Any) -> Any:
    """The Arrow schema of the output: the id columns as the input has them, then the
    predictions (float64; leaf indices int32)."""
    import pyarrow as pa

    fields = [in_schema.field(c) for c in id_columns]
    k = booster.num_outputs
    n_leaf = num_scored_trees(booster) if "leaf" in kinds else 0
    for i, name in enumerate(prediction_columns(booster, kinds)):
        is_leaf = k <= i < k + n_leaf
        fields.append(pa.field(name, pa.int32() if is_leaf else pa.float64()))
    return pa.schema(fields)


def arrow_array(a: np.ndarray) -> Any:
    """A 1-D numpy array of numbers as an Arrow array, sharing its memory.

    ``pyarrow.array`` first asks whether the object is a pandas Series, which imports pandas
    (about half a second of a scoring job)."""
    import pyarrow as pa

    a = np.ascontiguousarray(a)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(a), [None, pa.py_buffer(a)])


# ---------------------------------------------------------------------------- writers
def _dictionary_columns(schema: Any, id_columns: Sequence[str]) -> list[str]:
    """Columns worth dictionary-encoding in Parquet: those with few distinct values (string
    ids, leaf indices). Predictions and numeric ids are near-unique: pyarrow would build a
    dictionary for each page and then fall back, which cost more CPU than scoring the batch
    itself (measured: 1.06 s vs 0.12 s to write 2M rows of id + prediction) and made larger
    files."""
    import pyarrow as pa

    def few_values(f: Any) -> bool:
        if f.name not in id_columns:
            return bool(pa.types.is_int32(f.type))  # leaf indices
        t = f.type
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t)
                    or pa.types.is_binary(t) or pa.types.is_dictionary(t)
                    or pa.types.is_boolean(t))

    return [f.name for f in schema if few_values(f)]


class _Staged:
    """A file written under a temporary name beside ``target`` (pid-tagged, so that another
    run's cleanup leaves it alone while this process lives), then committed or discarded."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.tmp = _fs.temporary_name(target)
        self.committed = False

    def _close(self) -> None:
        pass

    def commit(self) -> None:
        """fsync the temporary and rename it over the target."""
        try:
            self._close()
            _fs.commit(self.tmp, self.target)
        except OSError as e:
            _fs.discard(self.tmp)
            raise DataError(f"output {self.target!r}: cannot be finished: {e}") from None
        self.committed = True

    def discard(self) -> None:
        """Remove the temporary (never raises); a committed file stays."""
        try:
            self._close()
        except Exception:  # noqa: BLE001, S110 - already failing; the file goes anyway
            pass
        _fs.discard(self.tmp)

    def uncommit(self) -> None:
        """Remove the committed file again (a later output of the same job failed)."""
        if self.committed:
            _fs.discard(self.target)
            self.committed = False


class StagedBytes(_Staged):
    """A small output (a profile) written at once to its temporary."""

    def __init__(self, target: str, data: bytes) -> None:
        super().__init__(target)
        try:
            with open(self.tmp, "xb") as f:
                f.write(data)
        except OSError as e:
            _fs.discard(self.tmp)
            raise DataError(f"output {target!r}: cannot be written: {e}") from None


class PartWriter(_Staged):
    """One output part in ``fmt``: :meth:`open` with the schema, :meth:`write` record batches,
    then :meth:`commit` (or :meth:`discard`). Errors name the target."""

    def __init__(self, target: str, fmt: str, id_columns: Sequence[str]) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ParameterError(
                f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        super().__init__(target)
        self.format = fmt
        self.id_columns = list(id_columns)
        self._writer: Any = None
        self._stream: Any = None  # the gzip stream under a csv.gz writer
        self.batches = 0

    def open(self, schema: Any) -> None:
        import pyarrow as pa

        try:
            self._writer = self._open(schema)
        except (OSError, pa.ArrowException) as e:
            self.discard()
            raise DataError(f"output {self.target!r}: cannot be created: {e}") from None

    def _open(self, schema: Any) -> Any:
        import pyarrow as pa

        if self.format == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetWriter(self.tmp, schema,
                                    use_dictionary=_dictionary_columns(schema, self.id_columns)
                                    or False)
        if self.format == "ipc":
            return pa.ipc.new_file(self.tmp, schema)
        import pyarrow.csv as pacsv

        if self.format == "csv.gz":
            self._stream = pa.CompressedOutputStream(self.tmp, "gzip")
            return pacsv.CSVWriter(self._stream, schema)
        return pacsv.CSVWriter(self.tmp, schema)

    def write(self, batch: Any) -> None:
        try:
            self._writer.write_batch(batch)
        except Exception as e:
            raise DataError(
                f"output {self.target!r}, batch {self.batches}: cannot be written: {e}"
            ) from e
        self.batches += 1

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        stream, self._stream = self._stream, None
        try:
            if writer is not None:
                writer.close()
        finally:
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Finish the file (footer, compressed tail) without committing it."""
        import pyarrow as pa

        try:
            self._close()
        except (OSError, pa.ArrowException) as e:
            raise DataError(f"output {self.target!r}: cannot be finished: {e}") from None
