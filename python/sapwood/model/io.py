"""Reading and writing models: sapwood model files, and any model sapwood reads.

``load`` / ``loads`` / ``save`` / ``dumps``: the sapwood model file
(:mod:`sapwood.model.format`). ``load_any`` / ``loads_any``: a sapwood model file or an
XGBoost / LightGBM model, recognised by content with the importers' rule
(:func:`sapwood.model.sniff.detect`); the command-line tools use them, so
``sapwood score model.txt ...`` scores a LightGBM model directly.

May import: the rest of ``model``.
"""

from __future__ import annotations

import os

from ..errors import ModelFormatError
from . import serialize as _serialize
from .booster import Booster
from .importers import import_bytes
from .sniff import detect

__all__ = ["load", "loads", "save", "dumps", "load_any", "loads_any"]


def loads(data: bytes | bytearray | memoryview) -> Booster:
    """A Booster from model-file bytes; raises ModelFormatError naming any fault."""
    return Booster.from_bytes(data)


def load(path: str | os.PathLike[str]) -> Booster:
    """Read a model file written by :meth:`Booster.save`."""
    return Booster.load(path)


def dumps(booster: Booster) -> bytes:
    """The model file's bytes for a Booster."""
    return _serialize.dumps(booster)


def save(booster: Booster, path: str | os.PathLike[str]) -> None:
    """Write the model file atomically (temporary file, fsync, rename over ``path``)."""
    _serialize.save(booster, path)


def loads_any(data: bytes | bytearray | memoryview) -> Booster:
    """A Booster from sapwood model-file bytes, or from an XGBoost JSON/UBJSON or LightGBM text
    model (imported with :func:`sapwood.import_model`), recognised by content."""
    kind = detect(data)
    if kind is None or kind == "sapwood":
        return loads(data)  # names the fault (bad magic bytes) when it is neither
    return import_bytes(bytes(data))


def load_any(path: str | os.PathLike[str], what: str = "model") -> Booster:
    """:func:`loads_any` of a file's bytes. A missing file is a FileNotFoundError and a file
    nested deeply enough to exhaust the parser's stack a ModelFormatError, each naming the
    file as ``what`` (for example "baseline model")."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file {path!r} does not exist")
    with open(path, "rb") as f:
        data = f.read()
    try:
        return loads_any(data)
    except RecursionError:
        raise ModelFormatError(f"{what} file {path!r} is nested too deeply to be a model "
                               "file") from None
