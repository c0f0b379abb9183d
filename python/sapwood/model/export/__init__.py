"""Export a Booster to the formats other runtimes load.

``onnx``: an ``ai.onnx.ml`` tree-ensemble graph (ONNX Runtime in Python, Java, C#, C++ and
the browsers); ``xgboost``: an XGBoost JSON model (XGBoost itself, Treelite, Triton's FIL
backend). Both read trees only through the public :class:`~sapwood.model.tree.Tree` view and
the objective registry, and both take the input a Booster's trees read:
``booster.feature_matrix(X)`` (columns in ``booster.feature_names`` order, categorical
features as their category codes). :func:`export` writes either one atomically.

May import: ``errors``, ``objectives``, ``_compat``, ``_fs``, ``model.booster``,
``model.tree`` and numpy (onnx lazily, in ``onnx``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..._fs import write_bytes
from ...errors import ParameterError
from .onnx import to_onnx
from .xgboost import to_xgboost_json

if TYPE_CHECKING:
    from ..booster import Booster

__all__ = ["FORMATS", "export", "export_bytes", "to_onnx", "to_xgboost_json"]

FORMATS = ("onnx", "xgboost-json")


def export_bytes(booster: Booster, format: str, **options: Any) -> bytes:
    """The exported model's bytes (``format``: one of :data:`FORMATS`)."""
    if format == "onnx":
        return bytes(to_onnx(booster, **options).SerializeToString())
    if format == "xgboost-json":
        return to_xgboost_json(booster, **options).encode("utf-8")
    raise ParameterError(f"export format must be one of {', '.join(FORMATS)}; got {format!r}")


def export(booster: Booster, format: str, path: str | os.PathLike[str],
           **options: Any) -> None:
    """Write ``booster`` as ``format`` to ``path``, atomically (the whole model is built
    first: a model that cannot be exported leaves no file behind)."""
    data = export_bytes(booster, format, **options)
    write_bytes(path, data)
