"""Which kind of model a file holds, from its first bytes: one rule for ``load_any`` and
``import_model``.

May import: ``model.format`` (the magic bytes).
"""

from __future__ import annotations

from typing import Literal

from .format import MAGIC

__all__ = ["ModelKind", "detect"]

ModelKind = Literal["sapwood", "xgboost-json", "xgboost-ubjson", "lightgbm-text", "catboost-json"]

_JSON_SECOND = (b'"', b" ", b"\n", b"\r", b"\t", b"}")


def detect(data: bytes | bytearray | memoryview) -> ModelKind | None:
    """The kind of model in ``data``, or None when it is none that sapwood reads.

    sapwood: the magic bytes. LightGBM text: starts with ``tree`` or ``version=`` or has a
    ``Tree=`` line in its first 100 kB. XGBoost: starts with ``{`` (after white space), JSON
    when the next byte begins a key or closes the object, else UBJSON (whose next byte is a
    type marker); CatBoost JSON: JSON with an ``"oblivious_trees"`` key.
    """
    head = bytes(data[:64])
    if head[:8] == MAGIC:
        return "sapwood"
    head = head.lstrip()
    if head.startswith((b"tree", b"version=")) or b"\nTree=" in bytes(data[:100_000]):
        return "lightgbm-text"
    if head.startswith(b"{"):
        if head[1:2] not in _JSON_SECOND:
            return "xgboost-ubjson"
        # CatBoost's JSON model (save_model(format="json")) has symmetric trees under this key,
        # which no XGBoost model has
        return "catboost-json" if b'"oblivious_trees"' in bytes(data) else "xgboost-json"
    return None
