"""The column layer: user tables in, named feature columns out.

Owns the one set of dtype rules every entry point uses (train, predict, score, profile,
validate, monitor, serve): ``columns`` (adapters for numpy, pandas, polars, Arrow; source
detection; ``encode_for_schema`` / ``to_matrix``), ``categorical`` (categories by value), and
the one file reader, ``readers`` (Parquet, CSV/TSV, Arrow IPC; files, folders, globs).
May import ``errors``, ``_compat`` and ``_core``; imports no other sapwood package.
"""
