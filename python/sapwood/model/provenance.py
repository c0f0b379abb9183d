"""Provenance: what a model records about where it came from.

A trained model records the sapwood version, the creation time and a fingerprint of its
training data (:func:`make_provenance`); an imported one records the format it was read from
and what that file says about itself (:func:`imported`). :func:`describe` says it in one line
(``sapwood inspect``).

May import: ``_version`` and numpy.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["library_version", "now_iso", "data_fingerprint", "make_provenance", "provenance_with",
           "column_blocks", "merge_fingerprint", "FINGERPRINT_BLOCK_ROWS", "imported",
           "describe", "FORMAT_NAMES"]

# Format identifiers (sapwood.model.sniff) -> how people name them.
FORMAT_NAMES = {
    "sapwood": "sapwood model file",
    "xgboost-json": "XGBoost JSON",
    "xgboost-ubjson": "XGBoost UBJSON",
    "lightgbm-text": "LightGBM text",
    "catboost-json": "CatBoost JSON",
}


def library_version() -> str:
    return str(__version__)


def now_iso() -> str:
    """Creation time: SOURCE_DATE_EPOCH when set (reproducible builds), else now, UTC."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde is not None and sde.strip().isdigit():
        t = _dt.datetime.fromtimestamp(int(sde), tz=_dt.timezone.utc)
    else:
        t = _dt.datetime.now(tz=_dt.timezone.utc)
    return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")


# Rows per hashed block: columns are hashed block by block (SHA-256 of each block's float32
# bytes, then SHA-256 of the block digests), so workers that each hold some of the rows can
# hash their blocks where the rows are; only blocks cut by a partition boundary are assembled
# from pieces. The block size is part of the fingerprint's definition.
FINGERPRINT_BLOCK_ROWS = 4096


def column_blocks(col: np.ndarray, first_row: int, n_rows: int
                  ) -> tuple[dict[int, bytes], dict[int, tuple[int, bytes]]]:
    """The blocks of one column's rows [first_row, first_row + len(col)) of an n_rows table:
    digests of the blocks wholly inside, and (offset in the block, float32 bytes) of the
    pieces of blocks cut at either end."""
    B = FINGERPRINT_BLOCK_ROWS
    with np.errstate(over="ignore"):  # beyond float32's range is inf, as the trees see it
        v = np.ascontiguousarray(col, dtype=np.dtype("<f4"))
    end = first_row + v.shape[0]
    full: dict[int, bytes] = {}
    pieces: dict[int, tuple[int, bytes]] = {}
    b = first_row // B
    while b * B < end:
        lo, hi = b * B, min((b + 1) * B, n_rows)
        s0, s1 = max(lo, first_row), min(hi, end)
        chunk = v[s0 - first_row:s1 - first_row]
        if s0 == lo and s1 == hi:
            full[b] = hashlib.sha256(chunk.data).digest()
        else:
            pieces[b] = (s0 - lo, chunk.tobytes())
        b += 1
    return full, pieces


def merge_fingerprint(names: list[str], n_rows: int,
                      blocks: list[tuple[dict[int, bytes], dict[int, list[tuple[int, bytes]]]]],
                      label: np.ndarray | None, weight: np.ndarray | None) -> dict[str, Any]:
    """The fingerprint from each column's block digests and pieces (see column_blocks)."""
    n_blocks = -(-n_rows // FINGERPRINT_BLOCK_ROWS)
    h = hashlib.sha256()
    h.update(b"sapwood-fingerprint-2\0")
    h.update(struct.pack("<QQQ", n_rows, len(names), FINGERPRINT_BLOCK_ROWS))
    for name, (full, pieces) in zip(names, blocks, strict=True):
        c = hashlib.sha256()
        for b in range(n_blocks):
            d = full.get(b)
            if d is None:
                parts = sorted(pieces.get(b, []))
                d = hashlib.sha256(b"".join(p for _, p in parts)).digest()
            c.update(d)
        h.update(name.encode("utf-8") + b"\0")
        h.update(c.digest())
    for what, v in (("label", label), ("weight", weight)):
        h.update(what.encode() + b"\0")
        if v is None:
            h.update(b"none")
        else:
            h.update(hashlib.sha256(np.ascontiguousarray(v, dtype="<f8").data).digest())
    return {"algorithm": "sha256-blocks", "block_rows": FINGERPRINT_BLOCK_ROWS,
            "digest": h.hexdigest(), "rows": int(n_rows), "columns": len(names)}


def data_fingerprint(dataset: Dataset) -> dict[str, Any]:
    """A SHA-256 fingerprint of a Dataset's feature columns, names, labels and weights.

    Each column is hashed as float32 (what the trees compare) in blocks of
    FINGERPRINT_BLOCK_ROWS rows, so the same data gives the same fingerprint whatever its
    memory layout, float width or (distributed training) partitioning.
    """
    X = dataset.X
    n, m = X.shape
    blocks: list[tuple[dict[int, bytes], dict[int, list[tuple[int, bytes]]]]] = []
    for j in range(m):
        full, _ = column_blocks(X[:, j], 0, n)
        blocks.append((full, {}))
    return merge_fingerprint(list(dataset.feature_names), n, blocks, dataset.label,
                             dataset.weight)


def make_provenance(dataset: Dataset) -> dict[str, Any]:
    """What train() records about how a model was built."""
    return provenance_with(data_fingerprint(dataset))


def provenance_with(fingerprint: dict[str, Any] | None) -> dict[str, Any]:
    """Provenance with a fingerprint computed elsewhere (distributed training's is merged
    from the workers'); None leaves it out."""
    out: dict[str, Any] = {"library_version": library_version(), "created_at": now_iso()}
    if fingerprint is not None:
        out["data_fingerprint"] = fingerprint
    return out


def imported(fmt: str, source_objective: str, **known: Any) -> dict[str, Any]:
    """What an importer records: the format read (a key of FORMAT_NAMES), the source
    objective, the importing sapwood's version and whatever the file says about itself
    (``source_version``, for instance). Values that are None are left out."""
    out: dict[str, Any] = {
        "imported_from": fmt,
        "source_objective": source_objective,
        "imported_with": library_version(),
        # the model file's required fields (a saved import re-loads): created_at is when the
        # import happened, library_version the importing sapwood
        "library_version": library_version(),
        "created_at": now_iso(),
        "data_fingerprint": None,
    }
    out.update({k: v for k, v in known.items() if v is not None})
    return out


def describe(prov: dict[str, Any]) -> str:
    """One line on where a model came from (``sapwood inspect``)."""
    fmt = prov.get("imported_from")
    if isinstance(fmt, str):
        parts = [f"imported from {FORMAT_NAMES.get(fmt, fmt)}"]
        if prov.get("source_version"):
            parts.append(f"written by {prov['source_version']}")
        if prov.get("source_objective"):
            parts.append(f"objective {prov['source_objective']}")
        parts.append(f"on {prov.get('created_at', 'an unknown date')} with sapwood "
                     f"{prov.get('imported_with', prov.get('library_version', '?'))}")
        return ", ".join(parts)
    created, version = prov.get("created_at"), prov.get("library_version")
    if created is None and version is None:
        return "unknown (the model file records no provenance)"
    return f"{created or 'at an unknown date'} with sapwood {version or '(unknown version)'}"
