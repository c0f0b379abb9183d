"""Reading tables (CSV, Parquet, Feather) for the command-line tools, with clear errors."""

from __future__ import annotations

import os
from typing import Any

from ..errors import DataError

__all__ = ["read_table"]


def read_table(path: str | os.PathLike[str]) -> Any:
    """A pandas DataFrame from a .csv/.tsv/.parquet/.feather file (pyarrow for the binary ones)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the test extra
        raise DataError("reading data files needs pandas (pip install pandas pyarrow)") from None
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DataError(f"data file {p!r} does not exist")
    low = p.lower()
    try:
        if low.endswith((".parquet", ".pq")):
            return pd.read_parquet(p)
        if low.endswith((".feather", ".arrow")):
            return pd.read_feather(p)
        if low.endswith((".tsv", ".tab")):
            return pd.read_csv(p, sep="\t")
        if low.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(p)
    except ImportError as e:
        raise DataError(f"reading {p!r} needs an optional package: {e}") from None
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read data file {p!r}: {e}") from None
    raise DataError(f"data file {p!r}: unknown format (use .csv, .tsv, .parquet or .feather)")
