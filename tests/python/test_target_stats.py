"""Ordered target statistics for categorical features (cat_encoding="target_stats" / "auto")
against a plain-loop reference, and their round trip through predict and the model file."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pandas as pd
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import DataError, ModelFormatError, ParameterError
from sapwood.dataset import encode_for_schema, ordered_target_stats

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def reference_ordered_stats(codes, k, y, w, a, seed):  # type: ignore[no-untyped-def]
    """Row by row in the seeded permutation, with running sums per category."""
    n = len(codes)
    w = np.ones(n) if w is None else w
    prior = float(np.sum(w * y) / np.sum(w))
    sum_wy: dict[int, float] = {}
    sum_w: dict[int, float] = {}
    out = np.full(n, np.nan)
    for i in np.random.default_rng(seed).permutation(n):
        if np.isnan(codes[i]):
            continue
        c = int(codes[i])
        out[i] = (sum_wy.get(c, 0.0) + a * prior) / (sum_w.get(c, 0.0) + a)
        sum_wy[c] = sum_wy.get(c, 0.0) + w[i] * y[i]
        sum_w[c] = sum_w.get(c, 0.0) + w[i]
    full = np.array([(sum_wy.get(c, 0.0) + a * prior) / (sum_w.get(c, 0.0) + a)
                     for c in range(k)])
    return out, full


@SETTINGS
@given(n=st.integers(1, 300), k=st.integers(1, 12), seed=st.integers(0, 2**32 - 1),
       weighted=st.booleans(), a=st.sampled_from([0.5, 1.0, 10.0]),
       missing=st.floats(0, 0.5))
def test_ordered_stats_match_reference(n: int, k: int, seed: int, weighted: bool, a: float,
                                       missing: float) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, k, n).astype(np.float32)
    codes[rng.random(n) < missing] = np.nan
    y = rng.normal(size=n) if seed % 2 else (rng.random(n) < 0.3).astype(float)
    w = rng.random(n) + 0.1 if weighted else None
    got, lut = ordered_target_stats(codes, k, y, w, a, seed)
    ref, ref_lut = reference_ordered_stats(codes, k, y, w, a, seed)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(codes))
    np.testing.assert_allclose(got, ref.astype(np.float32), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lut, ref_lut, rtol=1e-12, atol=1e-12)


def test_a_row_never_sees_its_own_label() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, 200).astype(np.float32)
    y = (rng.random(200) < 0.5).astype(float)
    base, _ = ordered_target_stats(codes, 5, y, None, 1.0, 7)
    for i in (0, 17, 199):
        # flip row i's label, and one of another category the other way (the prior, the mean
        # label, stays the same): row i's value does not move
        j = int(np.flatnonzero((codes != codes[i]) & (y != y[i]))[0])
        flipped = y.copy()
        flipped[i], flipped[j] = y[j], y[i]
        got, _ = ordered_target_stats(codes, 5, flipped, None, 1.0, 7)
        assert got[i] == base[i]


def _frame(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 200, n)
    effect = rng.normal(size=200)
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "many": pd.Categorical([f"m{v}" for v in c]),
        "few": pd.Categorical([f"f{v % 4}" for v in c]),
    })
    df.loc[::29, "many"] = None
    y = ((effect[c] + df["x"] + rng.normal(size=n) * 0.5) > 0).astype(float)
    return df, y


PARAMS = {"objective": "binary", "n_estimators": 20, "num_leaves": 8, "n_jobs": 1}


def test_auto_picks_high_cardinality_and_predict_uses_full_statistics() -> None:
    df, y = _frame()
    b = sapwood.train({**PARAMS, "cat_encoding": "auto", "cat_ts_min_categories": 10},
                      sapwood.Dataset(df, label=y))
    enc = {s["name"]: s.get("encoding") for s in b.schema}
    assert enc == {"x": None, "many": "target_stats", "few": None}
    spec = b.schema[1]
    # the stored statistic of each category is the full-data one
    codes = np.array([spec["categories"].index(v) if isinstance(v, str) else np.nan
                      for v in df["many"].astype(object)], dtype=np.float32)
    _, lut = ordered_target_stats(codes, len(spec["categories"]), y, None, 1.0, 0)
    np.testing.assert_allclose(spec["target_stats"], lut)
    # predict: a category's value is its statistic; unseen and missing are NaN
    new = pd.DataFrame({"x": [0.0, 0.0, 0.0], "many": ["m3", "never-seen", None],
                        "few": ["f1", "f1", "f1"]})
    m = encode_for_schema(new, b.schema)
    k = spec["categories"].index("m3")
    assert m[0, 1] == np.float32(spec["target_stats"][k])
    assert np.isnan(m[1, 1]) and np.isnan(m[2, 1])
    assert np.isfinite(b.predict(new)).all()
    # a validation set is encoded through the same statistics
    ds = sapwood.Dataset(df.iloc[:500], label=y[:500])
    np.testing.assert_array_equal(ds.encoded_for(b.schema), encode_for_schema(df.iloc[:500],
                                                                              b.schema))


def test_target_stats_model_file_round_trip_and_errors() -> None:
    df, y = _frame()
    b = sapwood.train({**PARAMS, "cat_encoding": "target_stats"}, sapwood.Dataset(df, label=y))
    assert [s.get("encoding") for s in b.schema] == [None, "target_stats", "target_stats"]
    raw = b.to_bytes()
    b2 = sapwood.Booster.from_bytes(raw)
    np.testing.assert_array_equal(b.predict(df), b2.predict(df))
    assert b2.schema == b.schema

    def tamper(edit):  # type: ignore[no-untyped-def]
        _, ver, flags, ml, dl = struct.unpack_from("<8sIIQQ", raw, 0)
        pad = (-(32 + ml)) % 8
        meta = json.loads(raw[32:32 + ml])
        edit(meta["model"]["schema"][1])
        mb = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        body = (struct.pack("<8sIIQQ", raw[:8], ver, flags, len(mb), dl) + mb
                + b"\0" * ((-(32 + len(mb))) % 8) + raw[32 + ml + pad:32 + ml + pad + dl])
        return body + hashlib.sha256(body).digest()

    bad = [
        (lambda s: s.update(encoding="woe"), "encoding"),
        (lambda s: s.update(target_stats=s["target_stats"][:-1]), "target_stats"),
        (lambda s: s.update(target_stats=["x"] * len(s["target_stats"])), "target_stats"),
        (lambda s: s.pop("target_stats"), "target_stats"),
    ]
    for edit, field in bad:
        with pytest.raises(ModelFormatError, match=field):
            sapwood.Booster.from_bytes(tamper(edit))
    # files without the field (written before it existed) load as native categories
    b3 = sapwood.Booster.from_bytes(tamper(lambda s: s.pop("encoding")))
    assert b3.schema[1].get("encoding") is None


def test_target_stats_bad_uses() -> None:
    df, y = _frame(n=400)
    with pytest.raises(ParameterError, match="cat_encoding"):
        sapwood.train({**PARAMS, "cat_encoding": "woe"}, sapwood.Dataset(df, label=y))
    with pytest.raises(ParameterError, match="cat_encoding"):
        sapwood.train({**PARAMS, "objective": "multiclass", "num_class": 3,
                       "cat_encoding": "target_stats"},
                      sapwood.Dataset(df, label=np.arange(400) % 3))
    with pytest.raises(DataError, match="label"):
        sapwood.Dataset(df).construct(255, 1000, 0, 1, 5, "target_stats")


def test_target_stats_need_in_memory_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    df, y = _frame(n=400)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(df.assign(target=y), preserve_index=False), path)
    with pytest.raises(ParameterError, match="in-memory"):
        sapwood.train({**PARAMS, "cat_encoding": "target_stats"},
                      sapwood.Dataset(str(path), label="target"))
