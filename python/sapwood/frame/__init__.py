"""The column layer: user tables in, named feature columns out.

Owns the one set of dtype rules every entry point uses (train, predict, score, profile,
validate, monitor, serve) and the one file reader (Parquet, CSV, Arrow IPC, folders, globs).
May import `errors`, `_compat` and `_core`; imports no other sapwood package.
"""
