"""Fuzzing the model-file loader: every damaged file loads or raises ModelFormatError.

Four hypothesis tests, 10,000+ loaded files in all in the default (CI-sized) run:
raw byte damage (flips, inserts, deletes, truncation, extension), the same damage with the
checksum recomputed (so the parser behind the checksum is reached), and structural edits of
the JSON metadata and of the binary blocks (re-signed). Set SAPWOOD_FUZZ_SCALE=10 for a longer
run; tests/fuzz/fuzz_model_file.py runs the loader under atheris for hours.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import struct
from typing import Any

import numpy as np
import pytest
import sapwood
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("SAPWOOD_FUZZ_SCALE", "1"))


def _settings(n: int) -> settings:
    return settings(max_examples=int(n * SCALE), derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def _model_bytes() -> bytes:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((200, 3))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) > 0).astype(np.float64)
    b = sapwood.train({"objective": "binary", "n_estimators": 3, "num_leaves": 4,
                       "max_bin": 8, "n_jobs": 1}, sapwood.Dataset(X, y))
    b.tags = {"t": [1, "a"]}
    return b.to_bytes()


VALID = _model_bytes()
X_CHECK = np.random.default_rng(8).standard_normal((50, 16))


def _load(data: bytes) -> None:
    try:
        b = sapwood.Booster.from_bytes(data)
    except sapwood.ModelFormatError:
        return
    # whatever loads must score without crashing (and re-save)
    if 0 < b.num_features <= X_CHECK.shape[1]:
        b.predict(X_CHECK[:, :b.num_features], output="leaf", n_jobs=1)
    b.to_bytes()


def _resign(data: bytes) -> bytes:
    body = data[:-32] if len(data) >= 32 else data
    return body + hashlib.sha256(body).digest()


@st.composite
def _damaged(draw: Any, base: bytes) -> list[bytes]:
    """Three to five damage steps; the file after each step (cumulative) is one case."""
    data = bytearray(base)
    out = []
    for _ in range(draw(st.integers(3, 5))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "extend"]))
        n = len(data)
        pos = draw(st.integers(0, max(0, n - 1)))
        if op == "flip" and n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            data[pos] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("9"), ord("-"),
                                              ord("{"), ord("\""), ord("e")]))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        out.append(bytes(data))
    return out


@_settings(1000)
@given(_damaged(VALID))
def test_fuzz_raw_damage(files: list[bytes]) -> None:
    for data in files:
        _load(data)


@_settings(1200)
@given(_damaged(VALID[:-32]))
def test_fuzz_damage_behind_the_checksum(bodies: list[bytes]) -> None:
    for body in bodies:
        _load(body + hashlib.sha256(body).digest())


# --------------------------------------------------------------------- structural edits
_HDR = struct.Struct("<8sIIQQ")
_MAGIC, _VER, _FLAGS, _ML, _DL = _HDR.unpack_from(VALID, 0)
_PAD = (-(32 + _ML)) % 8
META = json.loads(VALID[32:32 + _ML])
SECTION = VALID[32 + _ML + _PAD:32 + _ML + _PAD + _DL]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(META)[1:]
_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 7, 8, 3]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.sampled_from(["<f8", "<f4", "<i4", "|u1", "|b1", "<i8", "nan", "$block", "binary"]),
    st.just({"$block": 0}), st.just({"$float": "nan"}), st.just({"$float": "x"}),
)
_json = st.recursive(_json_leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                                      st.dictionaries(st.text(max_size=4), c,
                                                                      max_size=3)), max_leaves=4)


def _pack(meta: Any, section: bytes) -> bytes:
    mb = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    pad = (-(32 + len(mb))) % 8
    body = _HDR.pack(_MAGIC, _VER, _FLAGS, len(mb), len(section)) + mb + b"\0" * pad + section
    return body + hashlib.sha256(body).digest()


def _edit(meta: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    # a copy: st.just() hands out one shared dict, which later edits would otherwise mutate
    # (into a cycle that json.dumps rejects, or a state leaking between examples)
    value = copy.deepcopy(value)
    parent = meta
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif action == "number" and isinstance(parent[key], (int, float)) \
            and not isinstance(parent[key], bool):
        parent[key] = parent[key] + value
    elif action == "add" and isinstance(parent[key], dict):
        parent[key]["zz_extra"] = value
    elif action == "add" and isinstance(parent[key], list):
        parent[key].append(value)


@_settings(1000)
@given(st.lists(st.tuples(st.sampled_from(PATHS),
                          st.sampled_from(["delete", "replace", "number", "add"]),
                          _json, st.integers(-9, 9)), min_size=3, max_size=4))
def test_fuzz_metadata_edits(edits: list[tuple[Any, str, Any, int]]) -> None:
    meta = json.loads(json.dumps(META))
    for path, action, value, delta in edits:  # cumulative: the file after each edit is a case
        try:
            _edit(meta, path, action, delta if action == "number" else value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier edit removed the path
        _load(_pack(meta, SECTION))


@_settings(600)
@given(st.lists(st.tuples(st.integers(0, max(0, len(SECTION) - 1)),
                          st.binary(min_size=1, max_size=8)), min_size=3, max_size=5))
def test_fuzz_node_blocks(writes: list[tuple[int, bytes]]) -> None:
    # Overwrite bytes of the node arrays: child indices, features, thresholds, leaf values.
    section = bytearray(SECTION)
    for pos, b in writes:  # cumulative: the file after each write is a case
        section[pos:pos + len(b)] = b
        _load(_pack(META, bytes(section[:len(SECTION)])))


def test_fuzz_case_count() -> None:
    # examples x minimum files per example, per test above
    if SCALE < 1:
        pytest.skip("scaled-down run")
    assert (1000 + 1200 + 1000 + 600) * 3 >= 10_000


# --------------------------------------------------------------------------- importers
# Mutated XGBoost JSON / UBJSON and LightGBM text models: every import either gives a Booster
# that predicts and survives a save / load round trip, or raises a SapwoodError; nothing else
# escapes (issue 14's standing suite). SAPWOOD_FUZZ_EXAMPLES sets the examples per test (the
# nightly workflow raises it).
FUZZ_EXAMPLES = int(os.environ.get("SAPWOOD_FUZZ_EXAMPLES", "100"))

try:
    import lightgbm as _lgb
    import xgboost as _xgb
except ImportError:  # pragma: no cover - the importers' peers are test dependencies
    _xgb = _lgb = None

needs_peers = pytest.mark.skipif(_xgb is None or _lgb is None,
                                 reason="xgboost and lightgbm are needed")


def _foreign_models() -> dict[str, bytes]:
    if _xgb is None or _lgb is None:
        return {}
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 4)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(int)
    y3 = np.minimum((np.nan_to_num(X[:, 0]) > 0) + (np.nan_to_num(X[:, 2]) > 0.5), 2)
    out: dict[str, bytes] = {}
    xb = _xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                    _xgb.DMatrix(X, y), 3)
    out["xgb-json"] = bytes(xb.save_raw("json"))
    out["xgb-ubj"] = bytes(xb.save_raw("ubj"))
    xm = _xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2,
                     "nthread": 1}, _xgb.DMatrix(X, y3), 2)
    out["xgb-multi-json"] = bytes(xm.save_raw("json"))
    lb = _lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1,
                     "num_threads": 1}, _lgb.Dataset(X, y), 3)
    out["lgb-text"] = lb.model_to_string().encode()
    lm = _lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 4,
                     "verbose": -1, "num_threads": 1}, _lgb.Dataset(X, y3), 2)
    out["lgb-multi-text"] = lm.model_to_string().encode()
    return out


FOREIGN = _foreign_models()
X_FOREIGN = np.random.default_rng(9).standard_normal((40, 64)).astype(np.float32)
X_FOREIGN[::5, ::3] = np.nan


# What an import may allocate (Python and numpy memory, as tracemalloc sees it) for a file of
# n bytes: MEMORY_PER_BYTE * n + MEMORY_FLOOR. Declared sizes (num_feature, num_class,
# max_feature_idx, category segments) are checked against the file before anything is built,
# so a 7 KB file that declares 2^31 features must fail fast, not allocate gigabytes.
MEMORY_PER_BYTE = 64
MEMORY_FLOOR = 16 << 20


def _import_property(data: bytes) -> None:
    """Every outcome is a Booster that predicts and round-trips, or a SapwoodError; and the
    import allocates no more than the stated multiple of the file size."""
    import tracemalloc

    tracemalloc.start()
    try:
        b = sapwood.import_model(data)
    except sapwood.SapwoodError:
        return
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= MEMORY_PER_BYTE * len(data) + MEMORY_FLOOR, (
            f"importing {len(data)} bytes allocated {peak} bytes")
    again = sapwood.Booster.from_bytes(b.to_bytes())  # what imports must always allow
    if 0 < b.num_features <= X_FOREIGN.shape[1]:
        X = X_FOREIGN[:, :b.num_features]
        np.testing.assert_array_equal(b.predict(X, output="raw", n_jobs=1),
                                      again.predict(X, output="raw", n_jobs=1))


_ODD_VALUES = [0, -1, 1, 2**31, 2**62, -(2**62), 10**9, 1.5, float("inf"), float("-inf"),
               float("nan"), "abc", "1e9", "-5", "", [], [1, 2], [[1]], {}, {"a": 1}, None,
               True]


def _paths(doc: Any, prefix: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None,
           limit: int = 4000) -> list[tuple[Any, ...]]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            _paths(v, (*prefix, k), out, limit)
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:6]):
            out.append((*prefix, i))
            _paths(v, (*prefix, i), out, limit)
    return out


def _json_docs() -> dict[str, tuple[Any, list[tuple[Any, ...]]]]:
    docs = {}
    for name in ("xgb-json", "xgb-multi-json"):
        if name in FOREIGN:
            doc = json.loads(FOREIGN[name])
            docs[name] = (doc, _paths(doc))
    return docs


JSON_DOCS = _json_docs()


@needs_peers
@_settings(FUZZ_EXAMPLES)
@given(st.sampled_from(sorted(JSON_DOCS) or ["none"]), st.data())
def test_fuzz_xgboost_json_fields(name: str, data: st.DataObject) -> None:
    doc, paths = JSON_DOCS[name]
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = data.draw(st.sampled_from(_ODD_VALUES))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    _import_property(json.dumps(doc).encode())


@needs_peers
@_settings(FUZZ_EXAMPLES)
@given(st.sampled_from(sorted(FOREIGN) or ["none"]), st.data())
def test_fuzz_foreign_bytes(name: str, data: st.DataObject) -> None:
    raw = bytearray(FOREIGN[name])
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            del raw[at:]
        elif kind == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif raw:
            del raw[at:at + data.draw(st.integers(1, 16))]
    _import_property(bytes(raw))


_LGB_TOKENS = ["0", "-1", "1", "1000000000", "-5", "2147483648", "1e9", "nan", "inf", "abc",
               "", "0.5", "3 4 5", "-1 -2", "4294967295", "[1, 2]", "{}", "null"]


@needs_peers
@_settings(FUZZ_EXAMPLES)
@given(st.sampled_from(sorted(k for k in FOREIGN if k.startswith("lgb")) or ["none"]),
       st.data())
def test_fuzz_lightgbm_lines(name: str, data: st.DataObject) -> None:
    lines = FOREIGN[name].decode().split("\n")
    keyed = [i for i, s in enumerate(lines) if "=" in s or s.startswith("pandas_categorical")]
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.sampled_from(keyed))
        sep = ":" if lines[i].startswith("pandas_categorical") else "="
        key, _, val = lines[i].partition(sep)
        how = data.draw(st.sampled_from(["replace", "token", "drop", "repeat"]))
        if how == "replace":
            lines[i] = key + sep + data.draw(st.sampled_from(_LGB_TOKENS))
        elif how == "token" and val.split():
            toks = val.split()
            toks[data.draw(st.integers(0, len(toks) - 1))] = data.draw(
                st.sampled_from(_LGB_TOKENS))
            lines[i] = key + sep + " ".join(toks)
        elif how == "drop":
            lines[i] = ""
        else:
            lines[i] = key + sep + " ".join([val] * 2)
    _import_property("\n".join(lines).encode())


def test_fuzz_examples_setting() -> None:
    assert FUZZ_EXAMPLES >= 1
