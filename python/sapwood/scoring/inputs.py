"""The input side of a scoring job: one input file's schema, checks and record batches.

Read straight from pyarrow's per-format readers (Parquet, CSV, Arrow IPC file or stream),
pulled one batch at a time, so memory stays a few batches' worth. Errors are
:class:`~sapwood.errors.DataError` / :class:`~sapwood.errors.SchemaError` naming the file,
the batch (and the row, for CSV) and the column.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import DataError, ParameterError, SchemaError
from ..frame.names import check_unique
from ..frame.readers import csv_delimiter

__all__ = ["INPUT_FORMATS", "PartInput", "where", "ipc_reader", "ipc_schema", "num_rows"]

INPUT_FORMATS = ("parquet", "csv", "ipc")

_CSV_COLUMN_RE = re.compile(r"CSV column #(\d+)")
_CSV_ROW_RE = re.compile(r"Row #(\d+)")
_IN_COLUMN_RE = re.compile(r"column '([^']+)'|column \"([^\"]+)\"|column ([A-Za-z_][\w.]*)")


def where(source: str, batch: int | None = None, rows: tuple[int, int] | None = None,
          column: str | None = None) -> str:
    """``input 'f.parquet', batch 3 (rows 300-399), column 'x'``: the place an error names."""
    s = f"input {source!r}"
    if batch is not None:
        s += f", batch {batch}"
        if rows is not None:
            s += f" (rows {rows[0]}-{rows[1] - 1})"
    if column is not None:
        s += f", column {column!r}"
    return s


def ipc_reader(src: Any) -> tuple[Any, Iterator[Any]]:
    """(schema, record batches) of a memory-mapped Arrow IPC file, or IPC stream."""
    import pyarrow as pa

    try:
        r = pa.ipc.open_file(src)
        return r.schema, (r.get_batch(i) for i in range(r.num_record_batches))
    except pa.ArrowInvalid:  # the IPC stream format
        src.seek(0)
        s = pa.ipc.open_stream(src)
        return s.schema, iter(s)


def ipc_schema(path: str) -> Any:
    import pyarrow as pa

    with pa.memory_map(path) as src:
        return ipc_reader(src)[0]


def num_rows(path: str, fmt: str) -> int:
    """Rows of a Parquet file (from its metadata) or an Arrow IPC file (memory-mapped)."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with pa.memory_map(path) as src:
        return sum(b.num_rows for b in ipc_reader(src)[1])


def _column_from_arrow(msg: str, names: Sequence[str]) -> str | None:
    m = _CSV_COLUMN_RE.search(msg)
    if m:
        i = int(m.group(1))
        if 0 <= i < len(names):
            return names[i]
    m = _IN_COLUMN_RE.search(msg)
    if m:
        return next(g for g in m.groups() if g)
    return None


class PartInput:
    """One input file of a job: its schema, the checks against the model, its batches."""

    def __init__(self, source: str, fmt: str, *, features: Sequence[str],
                 categorical: Sequence[str], bools: Sequence[str], id_columns: Sequence[str],
                 batch_rows: int, device: str) -> None:
        self.source = source
        self.format = fmt
        self.features = list(features)
        self.categorical = set(categorical)
        self.bools = set(bools)
        self.id_columns = list(id_columns)
        self.batch_rows = batch_rows
        self.device = device

    def where(self, batch: int | None = None, rows: tuple[int, int] | None = None,
              column: str | None = None) -> str:
        return where(self.source, batch, rows, column)

    def schema(self) -> Any:
        """The input's Arrow schema, read from the file's metadata (CSV: its first block).

        Read straight from the per-format readers: ``pyarrow.dataset`` would import pandas
        (about a second of a scoring job's start-up) and is not needed to stream one file.
        """
        import pyarrow as pa

        src = self.source
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                return pq.ParquetFile(src).schema_arrow
            if self.format == "ipc":
                return ipc_schema(src)
            if self.format == "csv":
                import pyarrow.csv as pacsv

                parse, convert, read = self._csv_options()
                return pacsv.open_csv(pa.input_stream(src), read_options=read,
                                      parse_options=parse, convert_options=convert).schema
        except (pa.ArrowException, OSError) as e:
            # CSV: the schema is inferred from the first block, so a bad value there fails here.
            raise self.read_error(e, 0, self._csv_header()) from None
        raise ParameterError(
            f"input_format must be 'parquet', 'csv' or 'ipc', got {self.format!r}"
        )

    def _csv_options(self, columns: list[str] | None = None) -> tuple[Any, Any, Any]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Numeric features are read as float64 whatever the first block looks like (a later
        # "1.5" after integer-looking rows must not fail), then rounded to float32 as every
        # other source is (parsing straight to float32 can round differently); features the
        # model trained as bool parse true/false/True/False/1/0. Empty fields are nulls (NaN).
        delim = csv_delimiter(self.source)
        # (Categorical features keep their inferred type: they map by value.)
        convert = pacsv.ConvertOptions(
            column_types={f: pa.bool_() if f in self.bools else pa.float64()
                          for f in self.features if f not in self.categorical},
            strings_can_be_null=True)
        if columns is not None:
            convert.include_columns = columns
        return (pacsv.ParseOptions(delimiter=delim), convert,
                pacsv.ReadOptions(block_size=1 << 22))

    def _csv_header(self) -> list[str]:
        if self.format != "csv":
            return []
        import csv
        import gzip

        try:
            opener: Any = gzip.open if self.source.lower().endswith(".gz") else open
            with opener(self.source, "rt", newline="", encoding="utf-8") as f:
                delim = csv_delimiter(self.source)
                return next(csv.reader(f, delimiter=delim), [])
        except (OSError, UnicodeDecodeError, csv.Error):
            return []

    def read_error(self, e: BaseException, batch: int, names: Sequence[str]) -> DataError:
        """A reading error naming the file, batch (from the row when Arrow names it) and column."""
        msg = str(e).strip()
        col = _column_from_arrow(msg, names)
        rows = None
        m = _CSV_ROW_RE.search(msg)
        if m and self.format == "csv":
            row = int(m.group(1)) - 2  # Arrow counts lines from 1, the header included
            if row >= 0:
                rows = (row, row + 1)
        place = self.where(batch, None, col)
        if rows is not None:
            place += f", row {rows[0]}"
        return DataError(f"{place}: cannot be read: {msg}")

    def check_schema(self, schema: Any) -> None:
        """Every feature and id column is there; numeric features have a numeric type."""
        import pyarrow as pa

        names = set(schema.names)
        used = set(self.features) | set(self.id_columns)
        # columns are taken by name: a duplicated one would be ambiguous (pyarrow: KeyError)
        check_unique([n for n in schema.names if n in used], self.where())
        for col in self.features:
            if col not in names:
                raise SchemaError(
                    f"{self.where(0, None, col)}: missing from the input (the model needs "
                    f"{len(self.features)} feature columns; the input has {schema.names[:20]})"
                )
            if col in self.categorical:  # strings/categories map through the model's schema
                continue
            t = schema.field(col).type
            if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)
                    or pa.types.is_decimal(t) or pa.types.is_null(t)):
                raise SchemaError(
                    f"{self.where(0, None, col)}: has type {t}, but model features must be "
                    "numeric (float, integer or boolean)"
                )
        for col in self.id_columns:
            if col not in names:
                raise SchemaError(f"{self.where(0, None, col)}: id column missing from the input")

    def batches(self, cols: list[str]) -> Iterator[Any]:
        """Record batches of ``cols``, read on demand (pull-based).

        The dataset scanner reads ahead of a slow consumer without bound (here it buffered
        900 MB of a 2 GB file while the scorer worked), so batches are pulled from
        per-format readers, which read only when asked: memory stays a few batches' worth.
        """
        import pyarrow as pa

        n = self.batch_rows
        if self.format == "parquet":
            import pyarrow.parquet as pq

            # Small buffered reads and, on small machines, one decoding thread: there the
            # predictor already keeps every core busy, and pyarrow's decode threads cost more
            # CPU than they save (10M x 32 float32 rows: 2.1 s CPU single-threaded against
            # 2.5-3.8 s threaded). A GPU job, or a big machine, wants the parallel decode.
            pf = pq.ParquetFile(self.source, pre_buffer=False, buffer_size=1 << 16)
            threads = self.device != "cpu" or (os.cpu_count() or 1) > 4
            yield from pf.iter_batches(batch_size=n, columns=cols, use_threads=threads)
            return
        if self.format == "ipc":
            with pa.memory_map(self.source) as src:
                for b in ipc_reader(src)[1]:
                    b = b.select(cols)
                    for off in range(0, b.num_rows, n):
                        yield b.slice(off, n)
            return
        import pyarrow.csv as pacsv

        parse, convert, read = self._csv_options(cols)
        reader = pacsv.open_csv(pa.input_stream(self.source), read_options=read,
                                parse_options=parse, convert_options=convert)
        for b in reader:
            for off in range(0, b.num_rows, n):
                yield b.slice(off, n)
