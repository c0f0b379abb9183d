"""The one file reader: Parquet, CSV/TSV and Arrow IPC (Feather) files, folders and globs.

Every command and API that reads a data file goes through here, so the accepted extensions
and the errors are the same everywhere:

- a missing file, or a folder / glob holding no data file: ``DataError`` naming it;
- an unknown extension: ``DataError`` naming the accepted ones;
- a file that cannot be read (corrupt, not what its extension says): ``DataError`` naming the
  path and what the reader said;
- asked-for columns missing: ``SchemaError`` naming them; duplicate column names among those
  read: ``DataError`` naming them.

Values are converted to features later, by ``frame.columns`` (one set of dtype rules for
every source); the reader only parses. CSV type inference is Arrow's over the whole file
(``true``/``false``/``True``/``False`` are booleans, empty fields are missing).
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._compat import require
from ..errors import DataError, ParameterError, SchemaError
from .columns import check_unique

__all__ = ["INPUT_FORMATS", "ACCEPTED", "input_format", "is_data_file", "list_inputs",
           "csv_delimiter", "read_table", "read_pandas"]

# extension -> format; CSV/TSV may also be gzip-compressed (name + ".gz")
INPUT_FORMATS: dict[str, str] = {
    ".parquet": "parquet", ".pq": "parquet", ".parq": "parquet",
    ".csv": "csv", ".tsv": "csv", ".tab": "csv", ".txt": "csv",
    ".arrow": "ipc", ".ipc": "ipc", ".feather": "ipc",
}
_FORMATS = ("parquet", "csv", "ipc")
ACCEPTED = ", ".join(INPUT_FORMATS) + " (CSV/TSV also .gz)"


def format_of_name(path: str) -> str | None:
    """The format an accepted extension names, else None."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
        fmt = INPUT_FORMATS.get(os.path.splitext(name)[1])
        return fmt if fmt == "csv" else None
    return INPUT_FORMATS.get(os.path.splitext(name)[1])


def input_format(path: str | os.PathLike[str], given: str | None = None) -> str:
    """'parquet', 'csv' or 'ipc': ``given`` when set, else from the file's extension."""
    if given is not None:
        if given not in _FORMATS:
            raise ParameterError(f"input format must be 'parquet', 'csv' or 'ipc', got {given!r}")
        return given
    p = os.fspath(path)
    fmt = format_of_name(p)
    if fmt is None:
        raise DataError(f"data file {p!r}: unknown extension; accepted: {ACCEPTED} "
                        "(or name the format: input_format='parquet', 'csv' or 'ipc')")
    return fmt


def is_data_file(path: str) -> bool:
    """A file name with an accepted extension, not hidden, not a temporary or marker."""
    base = os.path.basename(path)
    if base.startswith((".", "_")):  # hidden files, temporaries, _SUCCESS markers
        return False
    return format_of_name(base) is not None


def list_inputs(source: str | os.PathLike[str]) -> tuple[list[str], str | None]:
    """(data files, their base folder or None for a single file) of a file, folder or glob.

    Folders are walked recursively (skipping hidden and ``_`` entries); globs may use ``**``.
    """
    src = os.fspath(source)
    if os.path.isdir(src):
        files = sorted(
            os.path.join(root, f)
            for root, dirs, names in os.walk(src)
            for f in names
            if is_data_file(f)
            and not any(p.startswith((".", "_")) for p in Path(root).relative_to(src).parts)
        )
        if not files:
            raise DataError(f"input folder {src!r} holds no data files ({ACCEPTED})")
        return files, src
    if any(ch in src for ch in "*?["):
        files = sorted(f for f in _glob.glob(src, recursive=True)
                       if os.path.isfile(f) and is_data_file(f))
        if not files:
            raise DataError(f"input glob {src!r} matches no data files ({ACCEPTED})")
        base = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
        return files, base
    if not os.path.exists(src):
        raise DataError(f"data file {src!r} does not exist")
    return [src], None


def csv_delimiter(path: str) -> str:
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def _read_one(path: str, fmt: str, columns: list[str] | None) -> Any:
    pa = require("pyarrow", "reading data files")
    try:
        if fmt == "parquet":
            pq = require("pyarrow.parquet", "reading Parquet files")
            pf = pq.ParquetFile(path)
            names = list(pf.schema_arrow.names)
            _check_columns(path, names, columns)
            return pf.read(columns=columns)
        if fmt == "ipc":
            with pa.memory_map(path) as src:
                try:
                    table = pa.ipc.open_file(src).read_all()
                except pa.ArrowInvalid:  # the stream format (no footer)
                    src.seek(0)
                    table = pa.ipc.open_stream(src).read_all()
            _check_columns(path, list(table.schema.names), columns)
            return table if columns is None else table.select(columns)
        pacsv = require("pyarrow.csv", "reading CSV files")
        parse = pacsv.ParseOptions(delimiter=csv_delimiter(path))
        convert = pacsv.ConvertOptions(strings_can_be_null=True)
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
        _check_columns(path, list(table.schema.names), columns)
        return table if columns is None else table.select(columns)
    except (pa.ArrowException, OSError, EOFError) as e:
        raise DataError(f"cannot read data file {path!r}: {str(e).strip()}") from None


def _check_columns(path: str, names: list[str], columns: Sequence[str] | None) -> None:
    wanted = list(names) if columns is None else list(columns)
    present = set(names)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise SchemaError(f"data file {path!r} is missing column(s) {missing[:10]} "
                          f"(it has {names[:20]})")
    check_unique([n for n in names if n in set(wanted)], f"data file {path!r}")


def read_table(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
               columns: Sequence[str] | None = None, *,
               input_format: str | None = None) -> Any:
    """A ``pyarrow.Table`` of a data file, a folder of them, a glob or a list of paths.

    Parquet (.parquet .pq .parq), CSV/TSV (.csv .tsv .tab .txt, optionally .gz) and Arrow
    IPC / Feather (.arrow .ipc .feather). ``columns``: read only these (in this order). Several
    files are concatenated in name order; their schemas must agree (integers widen).
    """
    pa = require("pyarrow", "reading data files")
    fmt_given = input_format
    if isinstance(path, (list, tuple)):
        sources = [os.fspath(p) for p in path]
    else:
        sources = [os.fspath(path)]  # type: ignore[arg-type]
    files: list[str] = []
    for s in sources:
        files.extend(list_inputs(s)[0])
    cols = None if columns is None else [str(c) for c in columns]
    tables = [_read_one(f, _fmt(f, fmt_given), cols) for f in files]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, ValueError) as e:
        raise DataError(f"data files {files[:5]} do not share one schema: {e}") from None


def _fmt(path: str, given: str | None) -> str:
    return input_format(path, given)


def read_pandas(path: str | os.PathLike[str], columns: Sequence[str] | None = None) -> Any:
    """:func:`read_table` as a pandas DataFrame (for code that works on pandas)."""
    require("pandas", "reading data files into pandas")
    return read_table(path, columns).to_pandas()
