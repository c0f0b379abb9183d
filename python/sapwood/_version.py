"""The installed sapwood's version (its own module, so that any module can read it without
importing the package's ``__init__``, which imports nearly everything)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sapwood")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
