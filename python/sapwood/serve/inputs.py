"""Request bodies -> feature blocks, checked against the model's schema.

A request is decoded into a :class:`Block`: one column per model feature, numeric features
as float64 numpy arrays (missing values NaN), categorical ones as pyarrow arrays of their
values. Blocks of concurrent requests concatenate cheaply (the micro-batcher) and become the
table ``Booster.predict`` reads: a float64 matrix in feature order when every feature is
numeric (the predictor's one-call fast path), else a pyarrow Table matched by name.

Every check names the column and, where one value is at fault, the row (0-based, within the
request): a :class:`RequestError` becomes a 4xx JSON answer; nothing here may raise anything
else for any body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._compat import optional, require

# optional (the serve extra): a faster parser for large JSON bodies; None without it
_orjson: Any = optional("orjson")

__all__ = ["RequestError", "Feature", "Block", "decode_json", "decode_arrow", "concat",
           "predict_input", "features_of"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"


class RequestError(Exception):
    """A request the service refuses: HTTP ``status`` with a JSON body naming what is wrong."""

    def __init__(self, status: int, kind: str, message: str, *, column: str | None = None,
                 row: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.column = column
        self.row = row

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"kind": self.kind, "message": self.message, "column": self.column,
                          "row": self.row}}


def _schema_error(message: str, column: str | None, row: int | None = None) -> RequestError:
    return RequestError(422, "schema", message, column=column, row=row)


def _data_error(message: str, column: str | None, row: int | None = None) -> RequestError:
    return RequestError(422, "data", message, column=column, row=row)


def _bad_request(message: str) -> RequestError:
    return RequestError(400, "bad_request", message)


@dataclass(frozen=True)
class Feature:
    """What the service checks a feature's values against."""

    name: str
    categorical: bool = False
    # categorical features: the training categories (None: not known, e.g. an imported
    # XGBoost model reading category codes) and whether they are strings
    categories: tuple[Any, ...] | None = None
    string_categories: bool = False
    _category_set: frozenset[Any] = field(default=frozenset(), compare=False)


def features_of(booster: Any) -> list[Feature]:
    """The features a Booster scores, from its public attributes (schema, feature names,
    categorical features and imported LightGBM category lists)."""
    schema = getattr(booster, "schema", None)
    out: list[Feature] = []
    if schema is not None:
        for s in schema:
            if s.get("kind") == "categorical":
                cats = tuple(s.get("categories", ()))
                out.append(Feature(str(s["name"]), True, cats,
                                   any(isinstance(v, str) for v in cats), frozenset(cats)))
            else:
                out.append(Feature(str(s["name"])))
        return out
    cat_names = set(booster.categorical_features)
    lists: dict[str, tuple[Any, ...]] = {}
    pc, pcf = booster.pandas_categorical, booster.pandas_categorical_features
    if pc is not None and pcf is not None and len(pc) == len(pcf):
        lists = {str(n): tuple(c) for n, c in zip(pcf, pc, strict=True)}
    for name in booster.feature_names:
        if name in cat_names:
            cats_or_none = lists.get(name)
            strings = cats_or_none is not None and any(isinstance(v, str) for v in cats_or_none)
            out.append(Feature(name, True, cats_or_none, strings,
                               frozenset(cats_or_none or ())))
        else:
            out.append(Feature(name))
    return out


@dataclass
class Block:
    """A request's rows: ``columns[j]`` holds feature j (float64 numpy or a pyarrow array)."""

    columns: list[Any]
    num_rows: int

    @property
    def signature(self) -> tuple[bool, ...]:
        """Which columns are numpy: only blocks of one signature are concatenated."""
        return tuple(isinstance(c, np.ndarray) for c in self.columns)


_NUMBER_TYPES = (int, float, bool)
_MISSING = object()


def _json_number_column(f: Feature, values: Sequence[Any]) -> np.ndarray:
    # One type test per value: numpy would otherwise parse "1.5" as a number and turn a list
    # into an error without a row. bool is an int subclass; None is a missing value.
    for i, v in enumerate(values):
        if v is None or type(v) in (float, int, bool):
            continue
        if v is _MISSING:
            raise _schema_error(f"row {i} has no column {f.name!r}", f.name, i)
        raise _data_error(f"column {f.name!r} is numeric but row {i} holds {_show(v)}",
                          f.name, i)
    arr = np.array(values, dtype=np.float64)  # None -> NaN
    return arr


def _show(v: Any) -> str:
    s = json.dumps(v) if not isinstance(v, float) else repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _check_category(f: Feature, v: Any, i: int, unseen: str) -> None:
    if f.string_categories and not isinstance(v, str):
        raise _data_error(
            f"column {f.name!r} is categorical with string categories but row {i} holds "
            f"{_show(v)}", f.name, i)
    if not f.string_categories and f.categories is not None and isinstance(v, str):
        raise _data_error(
            f"column {f.name!r} is categorical with numeric categories but row {i} holds "
            f"{_show(v)}", f.name, i)
    if unseen == "reject" and f.categories is not None and v not in f._category_set:
        raise _data_error(f"column {f.name!r}: row {i} holds the category {_show(v)} that "
                          "the model never saw in training (--unseen-categories reject)",
                          f.name, i)


def _json_category_column(f: Feature, values: Sequence[Any], unseen: str) -> Any:
    pa = require("pyarrow", "serving categorical features")
    for i, v in enumerate(values):
        if v is None:
            continue
        if v is _MISSING:
            raise _schema_error(f"row {i} has no column {f.name!r}", f.name, i)
        if type(v) not in (str, int, float, bool) or (type(v) is float and not math.isfinite(v)):
            raise _data_error(f"column {f.name!r} is categorical but row {i} holds {_show(v)}",
                              f.name, i)
        _check_category(f, v, i, unseen)
    if f.string_categories or any(isinstance(v, str) for v in values):
        return pa.array(values, type=pa.string())
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _loads(body: bytes) -> Any:
    """json.loads, through orjson when it is installed: parsing is most of a large JSON
    request's cost (1,000 records of 20 numbers: 9.5 ms with json, about a third of that with
    orjson). orjson is strict JSON; a body it refuses is parsed again by json, which also takes
    the NaN and Infinity literals Python clients send, so the accepted bodies do not change."""
    if _orjson is not None:
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(body)


def decode_json(body: bytes, features: list[Feature], unseen: str = "allow"
                ) -> tuple[Block, str | None]:
    """A JSON body -> (Block, the "output" it asks for or None).

    Accepted shapes: ``{"records": [{name: value, ...}, ...]}``, a bare list of such records,
    or ``{"columns": {name: [values...], ...}}``. Extra fields are ignored.
    """
    try:
        doc = _loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad_request(f"the body is not valid JSON: {e}") from None
    except RecursionError:
        raise _bad_request("the body is nested too deeply") from None
    output = None
    if isinstance(doc, dict):
        out_v = doc.get("output")
        if out_v is not None and not isinstance(out_v, str):
            raise _bad_request('"output" must be a string')
        output = out_v
        if "records" in doc:
            doc = doc["records"]
        elif "columns" in doc:
            return _decode_columns(doc["columns"], features, unseen), output
        else:
            raise _bad_request('the JSON body must hold "records" (a list of objects) or '
                               '"columns" (an object of lists)')
    if not isinstance(doc, list):
        raise _bad_request('"records" must be a list of objects')
    for i, r in enumerate(doc):
        if not isinstance(r, dict):
            raise RequestError(400, "bad_request", f"record {i} is not a JSON object", row=i)
    cols = []
    for f in features:
        values = [r.get(f.name, _MISSING) for r in doc]
        cols.append(_json_category_column(f, values, unseen) if f.categorical
                    else _json_number_column(f, values))
    return Block(cols, len(doc)), output


def _decode_columns(obj: Any, features: list[Feature], unseen: str) -> Block:
    if not isinstance(obj, dict):
        raise _bad_request('"columns" must be an object mapping column names to lists')
    n: int | None = None
    first = ""
    cols = []
    for f in features:
        if f.name not in obj:
            raise _schema_error(f"the request has no column {f.name!r}", f.name)
        values = obj[f.name]
        if not isinstance(values, list):
            raise _data_error(f"column {f.name!r} must be a list of values", f.name)
        if n is None:
            n, first = len(values), f.name
        elif len(values) != n:
            raise _data_error(f"column {f.name!r} has {len(values)} values but column "
                              f"{first!r} has {n}", f.name)
        cols.append(_json_category_column(f, values, unseen) if f.categorical
                    else _json_number_column(f, values))
    return Block(cols, n or 0)


def _first_valid(col: Any) -> int | None:
    pc = require("pyarrow.compute")
    idx = pc.index(pc.is_valid(col), True).as_py()
    return None if idx is None or idx < 0 else int(idx)


def decode_arrow(body: bytes, features: list[Feature], unseen: str = "allow") -> Block:
    """An Arrow IPC stream body -> Block (columns matched by name; types checked)."""
    pa = require("pyarrow", "Arrow IPC request bodies")
    pc = require("pyarrow.compute")
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError, ValueError) as e:
        raise _bad_request(f"the body is not a readable Arrow IPC stream: {e}") from None
    names = table.column_names
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _schema_error(f"the request has duplicate columns {dup}", dup[0])
    cols = []
    for f in features:
        if f.name not in names:
            raise _schema_error(f"the request has no column {f.name!r}", f.name)
        col = table.column(f.name)
        t = col.type
        if pa.types.is_dictionary(t):
            col = col.cast(t.value_type)
            t = col.type
        stringy = pa.types.is_string(t) or pa.types.is_large_string(t)
        numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) \
            or pa.types.is_null(t)
        if not f.categorical:
            if not numeric:
                raise _data_error(f"column {f.name!r} is numeric but the request's column has "
                                  f"type {t}", f.name, _first_valid(col))
            arr = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
            cols.append(np.ascontiguousarray(arr, dtype=np.float64))
            continue
        if not (stringy or numeric):
            raise _data_error(f"column {f.name!r} is categorical but the request's column has "
                              f"type {t}", f.name, _first_valid(col))
        if f.string_categories and not stringy and not pa.types.is_null(t):
            raise _data_error(f"column {f.name!r} is categorical with string categories but "
                              f"the request's column has type {t}", f.name, _first_valid(col))
        if not f.string_categories and f.categories is not None and stringy:
            raise _data_error(f"column {f.name!r} is categorical with numeric categories but "
                              f"the request's column has type {t}", f.name, _first_valid(col))
        if unseen == "reject" and f.categories is not None and col.null_count < len(col):
            ok = pc.is_in(col, value_set=pa.array(list(f.categories)))
            bad = pc.index(pc.and_(pc.is_valid(col), pc.invert(ok)), True).as_py()
            if bad is not None and bad >= 0:
                raise _data_error(
                    f"column {f.name!r}: row {bad} holds the category "
                    f"{_show(col[bad].as_py())} that the model never saw in training "
                    "(--unseen-categories reject)", f.name, int(bad))
        if stringy or (pa.types.is_null(t) and f.string_categories):
            cols.append(col.cast(pa.string()).combine_chunks())
        else:
            cols.append(np.ascontiguousarray(
                col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64))
    return Block(cols, table.num_rows)


def concat(blocks: Sequence[Block]) -> Block:
    """One Block holding the rows of ``blocks`` in order."""
    if len(blocks) == 1:
        return blocks[0]
    cols = []
    for j in range(len(blocks[0].columns)):
        parts = [b.columns[j] for b in blocks]
        if all(isinstance(p, np.ndarray) for p in parts):
            cols.append(np.concatenate(parts))
        else:  # same signature (the batcher groups by it): all pyarrow arrays of one type
            pa = require("pyarrow")
            cols.append(pa.concat_arrays(parts))
    return Block(cols, sum(b.num_rows for b in blocks))


def predict_input(block: Block, features: list[Feature]) -> Any:
    """What ``Booster.predict`` reads for ``block``: a C-ordered float64 matrix when every
    column is numeric (the predictor's fast path), else a pyarrow Table by name."""
    if all(isinstance(c, np.ndarray) for c in block.columns) and \
            not any(f.categorical for f in features):
        if not block.columns:
            return np.empty((block.num_rows, 0))
        return np.ascontiguousarray(np.column_stack(block.columns))
    return arrow_table(block, features)


def arrow_table(block: Block, features: list[Feature],
                dtypes: dict[str, str] | None = None) -> Any:
    """``block`` as a pyarrow Table named by feature. ``dtypes`` (name -> numpy dtype
    string) casts numeric columns where the cast is exact (profiles compare dtype families)."""
    pa = require("pyarrow", "serving categorical features")
    arrays = []
    for f, c in zip(features, block.columns, strict=True):
        if isinstance(c, np.ndarray):
            want = (dtypes or {}).get(f.name)
            if want is not None and not f.categorical:
                c = _exact_cast(c, want)
            if f.categorical and f.string_categories:
                arrays.append(pa.array([None] * len(c), type=pa.string()))
            else:
                arrays.append(pa.array(c))
        else:
            arrays.append(c)
    return pa.table(arrays, names=[f.name for f in features])


def _exact_cast(c: np.ndarray, dtype: str) -> np.ndarray:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return c
    if dt == c.dtype or dt.kind not in "fiub":
        return c
    if dt.kind == "f":
        return c.astype(dt)
    if not np.all(np.isfinite(c)):
        return c
    cast = c.astype(dt)
    return cast if np.array_equal(cast.astype(np.float64), c) else c
