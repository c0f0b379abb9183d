"""The column layer (sapwood.frame): one set of dtype rules for every source and entry point,
and one file reader. References are plain numpy (``np.float32`` of the values) and pandas."""

from __future__ import annotations

import decimal
import os

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import DataError, SchemaError
from sapwood.frame.columns import encode_for_schema, frame_columns
from sapwood.frame.readers import read_table

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pl = pytest.importorskip("polars")
from sapwood.scoring.api import score  # noqa: E402  (needs pyarrow)

PARAMS = {"objective": "binary", "n_estimators": 10, "num_leaves": 8, "min_child_samples": 5,
          "n_jobs": 1}


def _sources(df: pd.DataFrame, tmp_path: os.PathLike[str]) -> dict[str, object]:
    """The same table as every kind of input the layer takes."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    base = os.fspath(tmp_path)
    pq.write_table(table, os.path.join(base, "t.parquet"), row_group_size=7)
    df.to_csv(os.path.join(base, "t.csv"), index=False)
    with pa.OSFile(os.path.join(base, "t.arrow"), "wb") as f, \
            pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)
    return {
        "pandas": df,
        "arrow": table,
        "batch": table.combine_chunks().to_batches()[0] if len(df) else table,
        "polars": pl.from_pandas(df),
        "parquet": os.path.join(base, "t.parquet"),
        "csv": os.path.join(base, "t.csv"),
        "ipc": os.path.join(base, "t.arrow"),
        "csv-read": read_table(os.path.join(base, "t.csv")),
    }


def _reference(df: pd.DataFrame) -> np.ndarray:
    """The documented rule by hand: every value as the nearest float32, missing as NaN."""
    cols = []
    for c in df.columns:
        s = df[c]
        cols.append(np.array([np.nan if v is None or (isinstance(v, float) and v != v)
                              else float(v) for v in s.astype(object)], dtype=np.float64))
    # float64 -> float32 is one rounding (the values are float64-exact: ints < 2**53)
    return np.column_stack(cols).astype(np.float32)


@settings(deadline=None, derandomize=True, max_examples=25)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_property_same_table_same_feature_values_from_every_source(tmp_path_factory, n, seed):
    rng = np.random.default_rng(seed)
    tricky = np.array([0.0, -0.0, 1 + 2.0**-24, 16777217.0, 3.4e38, 1e-45, 0.1, -2.5])
    f64 = np.where(rng.random(n) < 0.5, rng.normal(size=n) * 10.0 ** rng.integers(-8, 9, n),
                   rng.choice(tricky, n))
    f64[rng.random(n) < 0.2] = np.nan
    f32 = (rng.normal(size=n) * 1000).astype(np.float32)
    f32[rng.random(n) < 0.2] = np.nan
    df = pd.DataFrame({
        "f64": f64,
        "f32": f32,
        "i64": rng.integers(-2**40, 2**40, n),          # above 2**24: rounded once to float32
        "b": rng.random(n) < 0.5,
    })
    schema = [{"name": c, "kind": "numeric"} for c in df.columns]
    expect = _reference(df)
    tmp = tmp_path_factory.mktemp("src")
    for name, src in _sources(df, tmp).items():
        got = encode_for_schema(src, schema).astype(np.float32)
        np.testing.assert_array_equal(got, expect, err_msg=name)
    # numpy: by position, each column in its own dtype
    for j, c in enumerate(df.columns):
        got = encode_for_schema(df[[c]].to_numpy(), [schema[j]]).astype(np.float32)
        np.testing.assert_array_equal(got[:, 0], expect[:, j], err_msg=f"numpy {c}")


def test_nullable_and_narrow_types_follow_the_rules():
    n = 6
    df = pd.DataFrame({
        "i8": pd.array([1, None, -3, 4, 5, 127], dtype="Int8"),
        "u64": pd.array([0, 1, 2**24 + 1, 2**40 + 3, None, 7], dtype="UInt64"),
        "f16": np.array([0.5, 1.5, np.nan, 2.0, -1.0, 65504], dtype=np.float16),
        "F32": pd.array([0.1, None, 2.0, 3.0, 4.0, 5.0], dtype="Float32"),
        "boolean": pd.array([True, False, None, True, False, True], dtype="boolean"),
        "dec": [decimal.Decimal("1.25"), None, decimal.Decimal("-3"), decimal.Decimal("0.1"),
                decimal.Decimal("2"), decimal.Decimal("1e10")],
    })
    expect = np.array([
        [1, 0, 0.5, np.float32(0.1), 1, 1.25],
        [np.nan, 1, 1.5, np.nan, 0, np.nan],
        [-3, np.float32(2**24 + 1), np.nan, 2, np.nan, -3],
        [4, np.float32(2**40 + 3), 2, 3, 1, 0.1],
        [5, np.nan, -1, 4, 0, 2],
        [127, 7, 65504, 5, 1, 1e10],
    ]).astype(np.float32)
    schema = [{"name": c, "kind": "numeric"} for c in df.columns]
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    for name, src in {"pandas": df, "arrow": arrow, "polars": pl.from_arrow(arrow)}.items():
        got = encode_for_schema(src, schema).astype(np.float32)
        np.testing.assert_array_equal(got, expect, err_msg=name)
    assert n == len(df)


def test_bool_model_scores_its_csv(tmp_path):
    """Issue 13: a model trained on a pandas frame with a bool column scores the same rows read
    from CSV (was: "CSV conversion error to float: invalid value 'False'")."""
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"x": rng.normal(size=n), "flag": rng.random(n) < 0.5,
                       "k": rng.integers(0, 10, n)})
    y = (df["x"] + 2 * df["flag"] > 1).astype(float).to_numpy()
    booster = sapwood.train(PARAMS, sapwood.Dataset(df, label=y))
    assert [s["kind"] for s in booster.schema] == ["numeric", "bool", "numeric"]
    path = tmp_path / "rows.csv"
    df.to_csv(path, index=False)
    assert "False" in path.read_text()
    out = tmp_path / "scored.parquet"
    score(booster, str(path), str(out), progress=False, n_jobs=1)
    got = pq.read_table(out).column(0).to_numpy()
    np.testing.assert_allclose(got, booster.predict(df), rtol=0, atol=1e-12)
    # the model file round trip and a file path given to predict agree too
    np.testing.assert_allclose(booster.predict(str(path)), booster.predict(df), atol=1e-12)


def test_score_parquet_with_duplicate_column_names_names_the_column(tmp_path):
    """Issue 14 item 15: a DataError naming the duplicated column, not a KeyError."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    booster = sapwood.train({"n_estimators": 3, "n_jobs": 1},
                            sapwood.Dataset(pd.DataFrame(X, columns=["a", "b"]), label=X[:, 0]))
    t = pa.Table.from_arrays([pa.array(X[:, 0]), pa.array(X[:, 1]), pa.array(X[:, 1])],
                             names=["a", "b", "b"])
    src = tmp_path / "dup.parquet"
    pq.write_table(t, src)
    with pytest.raises(DataError, match=r"duplicate column names: \['b'\]"):
        score(booster, str(src), str(tmp_path / "o.parquet"), progress=False)
    assert not (tmp_path / "o.parquet").exists()
    with pytest.raises(DataError, match=r"duplicate column names: \['b'\]"):
        read_table(src)
    # an unused duplicate is fine for the reader when the columns are named
    assert read_table(src, columns=["a"]).num_columns == 1


@pytest.mark.parametrize("col", [
    np.array(["a", 2, "b", None] * 30, dtype=object),        # strings mixed with a number
    np.array([1.0] * 1200 + ["z"], dtype=object),             # a stray string deep down
])
def test_training_on_object_array_mixing_strings_names_the_column(col):
    """Issue 14 item 16: a DataError naming the column (was: TypeError naming nothing)."""
    X = np.empty((len(col), 2), dtype=object)
    X[:, 0] = np.arange(len(col), dtype=float)
    X[:, 1] = col
    y = np.arange(len(col), dtype=float)
    for cf in ("auto", None, [1]):
        with pytest.raises(DataError, match="column 'f1' mixes"):
            sapwood.train({"n_estimators": 2}, sapwood.Dataset(X, y, categorical_features=cf))


def test_object_array_of_strings_trains_and_predicts_by_value():
    X = np.array([["a", 1.0], ["b", 2.0], [None, 3.0]] * 40, dtype=object)
    y = np.array([0.0, 1.0, 0.5] * 40)
    b = sapwood.train({"n_estimators": 5, "min_child_samples": 2}, sapwood.Dataset(X, y))
    assert b.schema[0]["kind"] == "categorical"
    np.testing.assert_allclose(b.predict(X[:3]), b.predict(X[3:6]))
    with pytest.raises(DataError, match="'f1'"):
        b.predict(np.array([["a", "x"]], dtype=object))


def test_dates_refused_as_features_everywhere_and_profiled_as_epoch_ns(tmp_path):
    n = 50
    when = pd.date_range("2024-01-01", periods=n, freq="D")
    df = pd.DataFrame({"x": np.arange(n, dtype=float), "when": when})
    b = sapwood.train({"n_estimators": 2}, sapwood.Dataset(df[["x"]].assign(when=1.0),
                                                          label=np.arange(n) % 2))
    for src in (df, pa.Table.from_pandas(df), pl.from_pandas(df)):
        with pytest.raises(DataError, match="'when' holds dates/times"):
            b.predict(src)
    p = sapwood.Profile.from_data(df)
    ns = when.as_unit("ns").asi8.astype(np.float64)
    assert p["when"].min == ns.min() and p["when"].max == ns.max()
    p2 = sapwood.Profile.from_data(pa.Table.from_pandas(df))
    assert p2["when"].min == ns.min() and p2["when"].max == ns.max()


def test_profiles_read_ints_as_the_model_does():
    """A profile's int column holds the model's feature values (nearest float32)."""
    v = np.array([2**24 + 1, 3, 2**24 + 3], dtype=np.int64)
    ref = np.float32(v).astype(np.float64)
    for src in (pd.DataFrame({"i": v}), pa.table({"i": v}), pl.DataFrame({"i": v})):
        p = sapwood.Profile.from_data(src)
        assert (p["i"].min, p["i"].max) == (ref.min(), ref.max())


def test_detection_imports_nothing():
    cols, named = frame_columns(np.zeros((3, 2), np.float32))
    assert not named and [c.name for c in cols] == ["f0", "f1"]
    assert cols[0].numeric().base is not None  # a view, no copy


# ---------------------------------------------------------------------------- readers
def test_reader_errors_name_the_path_and_accepted_extensions(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "missing.parquet")
    bad = tmp_path / "x.xlsx"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"unknown extension; accepted: \.parquet"):
        read_table(bad)
    corrupt = tmp_path / "c.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="cannot read data file .*c.parquet"):
        read_table(corrupt)
    with pytest.raises(DataError, match="holds no data files"):
        read_table(tmp_path / "empty") if (tmp_path / "empty").mkdir() is None else None
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SchemaError, match="missing column"):
        read_table(tmp_path / "ok.csv", columns=["a", "zz"])


def test_reader_formats_folders_and_globs_agree(tmp_path):
    df = pd.DataFrame({"a": [1.5, 2.5, np.nan, 4.0], "s": ["x", None, "y", "x"],
                       "b": [True, False, True, False]})
    table = pa.Table.from_pandas(df, preserve_index=False)
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(table.slice(0, 2), d / "p0.parquet")
    pq.write_table(table.slice(2), d / "p1.parquet")
    df.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    import gzip

    with gzip.open(tmp_path / "t.csv.gz", "wt") as f:
        df.to_csv(f, index=False)
    for src in (d, str(d / "*.parquet"), tmp_path / "t.tsv", tmp_path / "t.csv.gz",
                [d / "p0.parquet", d / "p1.parquet"]):
        got = read_table(src).to_pandas()
        pd.testing.assert_frame_equal(got, df, check_dtype=False, obj=str(src))


def test_csv_and_ipc_paths_train_like_the_table(tmp_path):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["u", "v", "w"], 300)})
    y = (df["x"] > 0).astype(float).to_numpy()
    ref = sapwood.train(PARAMS, sapwood.Dataset(df, label=y)).predict(df)
    srcs = _sources(df, tmp_path)
    for name in ("csv", "ipc", "parquet"):
        b = sapwood.train(PARAMS, sapwood.Dataset(srcs[name], label=y))
        np.testing.assert_allclose(b.predict(df), ref, atol=1e-12, err_msg=name)
