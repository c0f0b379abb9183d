"""Import models trained by XGBoost (JSON / UBJSON), LightGBM (text ``model.txt``) and CatBoost
(JSON, ``save_model(path, format="json")``: numeric features).

One module per format (``xgboost``, ``ubjson``, ``lightgbm``); each builds its Booster through
the one :class:`~sapwood.model.builder.ModelBuilder` and reads objectives through the registry
(:mod:`sapwood.objectives`). ``import_model(path_or_bytes)`` recognises the format with the
rule ``sapwood.load_any`` uses (:func:`sapwood.model.sniff.detect`) and returns a Booster that
scores the same values as the source library (float32 feature comparisons, as both libraries
do). The imported Booster has no bin edges (it was not trained here); its trees carry the
source's cover in ``hess``, so ``output="contrib"`` matches the source's ``pred_contrib``.
The source objective is kept as ``booster.params["source"]`` (e.g. ``"xgboost:rank:pairwise"``)
and ``booster.provenance`` says where the model came from (``imported_from``,
``source_objective``, ``source_version`` when the file says). Any fault, and anything that
would give a Booster that cannot be saved again or cannot predict, raises
:class:`sapwood.ModelFormatError` naming the field; declared sizes are checked against the
file's size before anything is allocated for them.

May import: ``errors``, ``objectives``, ``model.booster``, ``model.builder``,
``model.provenance``, ``model.sniff``.
"""

from __future__ import annotations

import os

from ...errors import ModelFormatError
from ..booster import Booster
from ..sniff import detect
from ._common import read_source
from .catboost import import_catboost_json
from .lightgbm import import_lightgbm
from .xgboost import import_xgboost_json, import_xgboost_ubjson

__all__ = ["import_model", "import_bytes"]


def import_model(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> Booster:
    """Read an XGBoost (JSON/UBJSON) or LightGBM (text) model into a sapwood Booster.

    ``source`` is a path or the file's bytes. The format is recognised from the content.
    Raises :class:`sapwood.ModelFormatError` naming the field when the file is malformed or
    uses a feature that cannot be scored exactly.
    """
    return import_bytes(read_source(source))


def import_bytes(data: bytes) -> Booster:
    """:func:`import_model` of a foreign model's bytes."""
    if not data.strip():
        raise ModelFormatError("model is empty")
    kind = detect(data)
    if kind == "lightgbm-text":
        return import_lightgbm(data)
    if kind == "xgboost-json":
        return import_xgboost_json(data)
    if kind == "catboost-json":
        return import_catboost_json(data)
    if kind == "xgboost-ubjson":
        return import_xgboost_ubjson(data)
    if kind == "sapwood":
        raise ModelFormatError("this is a sapwood model file: read it with sapwood.load")
    raise ModelFormatError(
        "unrecognised model format (expected XGBoost JSON/UBJSON, a LightGBM text model or a "
        "CatBoost JSON model)"
    )
