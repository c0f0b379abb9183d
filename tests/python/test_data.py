"""Adapters (numpy, pandas, polars, Arrow, Parquet) against one reference table, and the
schema checks at predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import DataError, SchemaError

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pl = pytest.importorskip("polars")

PARAMS = {"objective": "binary", "n_estimators": 15, "num_leaves": 8, "min_child_samples": 5,
          "n_jobs": 1, "min_data_per_group": 5, "cat_smooth": 1.0}


def make_table(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cities = np.array(["paris", "rome", "oslo", "lima", "kyiv", "baku", "riga"], dtype=object)
    c = rng.integers(0, len(cities), n)
    x = rng.normal(size=n)
    i = rng.integers(-5, 5, n)
    b = rng.random(n) < 0.5
    y = ((np.sin(c) + x + 0.3 * i + b + rng.normal(size=n) * 0.3) > 0.5).astype(float)
    df = pd.DataFrame({
        "x": x,
        "x32": (x * 2).astype(np.float32),
        "i": pd.array(i, dtype="Int64"),
        "b": pd.array(b, dtype="boolean"),
        "city": pd.Categorical(cities[c]),
        "s": pd.array(cities[(c + 1) % len(cities)], dtype="string"),
    })
    df.loc[::17, "i"] = pd.NA
    df.loc[::13, "b"] = pd.NA
    df.loc[::11, "city"] = None
    df.loc[::19, "x"] = np.nan
    df.loc[::23, "s"] = pd.NA
    return df, y


def views(df: pd.DataFrame, tmp_path) -> dict[str, object]:
    table = pa.Table.from_pandas(df, preserve_index=False)
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=100)
    return {
        "pandas": df,
        "arrow": table,
        "batch": table.combine_chunks().to_batches()[0],
        "polars": pl.from_arrow(table),
        "parquet": str(path),
    }


def test_every_adapter_predicts_the_same(tmp_path):
    df, y = make_table()
    booster = sapwood.train(PARAMS, sapwood.Dataset(df, label=y))
    ref = booster.predict(df)
    assert booster.categorical_features == ["city", "s"]
    for name, v in views(df, tmp_path).items():
        np.testing.assert_allclose(booster.predict(v), ref, rtol=0, atol=1e-12, err_msg=name)


def test_every_adapter_trains_the_same_model(tmp_path):
    df, y = make_table()
    ref = sapwood.train(PARAMS, sapwood.Dataset(df, label=y)).predict(df)
    for name, v in views(df, tmp_path).items():
        b = sapwood.train(PARAMS, sapwood.Dataset(v, label=y))
        np.testing.assert_allclose(b.predict(df), ref, rtol=0, atol=1e-12, err_msg=name)


def test_label_and_weight_as_column_names(tmp_path):
    df, y = make_table()
    ref = sapwood.train(PARAMS, sapwood.Dataset(df, label=y, weight=np.ones(len(y)))).predict(df)
    full = df.assign(target=y, w=1.0)
    for name, v in views(full, tmp_path).items():
        ds = sapwood.Dataset(v, label="target", weight="w")
        assert "target" not in ds.feature_names and "w" not in ds.feature_names
        b = sapwood.train(PARAMS, ds)
        np.testing.assert_allclose(b.predict(v), ref, rtol=0, atol=1e-12, err_msg=name)


def test_numpy_view_matches_numeric_table():
    df, y = make_table()
    num = df[["x", "x32", "i", "b"]]
    arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
    b1 = sapwood.train(PARAMS, sapwood.Dataset(num, label=y))
    b2 = sapwood.train(PARAMS, sapwood.Dataset(arr, label=y))
    np.testing.assert_allclose(b1.predict(num), b2.predict(arr), atol=1e-12)
    np.testing.assert_allclose(b1.predict(arr), b2.predict(arr), atol=1e-12)
    assert [s["kind"] for s in b1.schema] == ["numeric", "numeric", "numeric", "bool"]


def test_numpy_categorical_by_position():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=500), rng.choice([3, 7, 11, 40], 500)])
    y = ((X[:, 1] == 7) | (X[:, 0] > 1)).astype(float)
    b = sapwood.train(PARAMS, sapwood.Dataset(X, label=y, categorical_features=[1]))
    assert b.schema[1]["kind"] == "categorical"
    assert sorted(b.schema[1]["categories"]) == [3.0, 7.0, 11.0, 40.0]
    p = b.predict(X)
    assert np.mean((p > 0.5) == y) > 0.95
    with pytest.raises(DataError, match="3 features"):
        b.predict(np.column_stack([X, X[:, :1]]))


def test_zero_copy_float32():
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    ds = sapwood.Dataset(X, label=np.zeros(100))
    assert ds.X is X
    col = pa.array(X[:, 0])
    t = pa.table({"a": col})
    ds2 = sapwood.Dataset(t)
    assert np.shares_memory(ds2.columns()[0], np.asarray(col))
    s = pd.DataFrame({"a": X[:, 0].copy()})
    assert np.shares_memory(sapwood.Dataset(s).columns()[0], s["a"].to_numpy())


def test_reordered_extra_and_missing_columns():
    df, y = make_table()
    b = sapwood.train(PARAMS, sapwood.Dataset(df, label=y))
    ref = b.predict(df)
    shuffled = df[list(reversed(df.columns))].assign(extra=1.0)
    np.testing.assert_allclose(b.predict(shuffled), ref, atol=1e-12)
    np.testing.assert_allclose(b.predict(pa.Table.from_pandas(shuffled)), ref, atol=1e-12)
    with pytest.raises(SchemaError, match="city"):
        b.predict(df.drop(columns=["city"]))


def test_strings_where_numbers_were_trained():
    df, y = make_table()
    b = sapwood.train(PARAMS, sapwood.Dataset(df, label=y))
    bad = df.assign(x=np.where(np.arange(len(df)) % 2, "oops", "1.0"))
    with pytest.raises(DataError, match=r"'x'.*oops|'x'.*1\.0"):
        b.predict(bad)
    with pytest.raises(DataError, match="city"):
        b.predict(df.assign(city=np.arange(len(df), dtype=float)))


def test_string_column_without_categorical_flag_names_column():
    df, y = make_table()
    with pytest.raises(DataError, match=r"'s'.*e\.g\."):
        sapwood.Dataset(df, label=y, categorical_features=["city"])
    with pytest.raises(DataError, match="nope"):
        sapwood.Dataset(df, label=y, categorical_features=["nope"])


def test_categories_map_by_value_not_code():
    df, y = make_table()
    b = sapwood.train(PARAMS, sapwood.Dataset(df, label=y))
    ref = b.predict(df)
    recoded = df.assign(city=df["city"].cat.reorder_categories(
        list(reversed(df["city"].cat.categories))))
    np.testing.assert_allclose(b.predict(recoded), ref, atol=1e-12)
    as_str = df.assign(city=df["city"].astype(object))
    np.testing.assert_allclose(b.predict(as_str), ref, atol=1e-12)
    # Arrow dictionary with a different dictionary order
    t = pa.Table.from_pandas(recoded, preserve_index=False)
    np.testing.assert_allclose(b.predict(t), ref, atol=1e-12)


def test_nullable_types_are_missing_values():
    df, y = make_table()
    ds = sapwood.Dataset(df, label=y)
    cols = ds.columns()
    names = ds.feature_names
    assert np.isnan(cols[names.index("i")][::17]).all()
    assert np.isnan(cols[names.index("b")][::13]).all()
    assert np.isnan(cols[names.index("city")][::11]).all()


def test_parquet_streamed_binning_matches_in_memory(tmp_path):
    df, y = make_table(n=3000)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(df.assign(target=y), preserve_index=False), path,
                   row_group_size=256)
    mem = sapwood.Dataset(df, label=y)
    streamed = sapwood.Dataset(str(path), label="target", batch_size=500)
    a = mem.construct(255, 200000, 0, 1).to_numpy()
    b = streamed.construct(255, 200000, 0, 1).to_numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(streamed.label, y)
    # sampled edges (a subset of row groups, binned from memory; the others streamed) bin
    # every row exactly as the in-memory columns bin through the same edges
    c = streamed.construct(255, 1000, 0, 1)
    assert c.num_rows == 3000
    ref = sapwood._core.binned_allocate(3000, streamed.bin_edges, streamed.num_cats)
    sapwood._core.binned_fill_columns(ref, 0, mem.columns(), 1)
    np.testing.assert_array_equal(c.to_numpy(), ref.to_numpy())
    # row groups larger than 4 batches are read in batches: same bins
    small = sapwood.Dataset(str(path), label="target", batch_size=50)
    np.testing.assert_array_equal(small.construct(255, 1000, 0, 1).to_numpy(), c.to_numpy())
    booster = sapwood.train({**PARAMS, "bin_sample_rows": 1000}, streamed)
    assert booster.predict(str(path)).shape == (3000,)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(df.iloc[:1000], preserve_index=False), folder / "a.parquet")
    pq.write_table(pa.Table.from_pandas(df.iloc[1000:], preserve_index=False), folder / "b.parquet")
    assert sapwood.Dataset(str(folder)).num_rows == 3000
    assert sapwood.Dataset([folder / "a.parquet", folder / "b.parquet"]).num_rows == 3000


def test_validation_set_uses_training_codes():
    df, y = make_table(n=1000)
    tr, va = df.iloc[:600], df.iloc[600:]
    # the validation slice has other category frequencies, so other own codes
    b = sapwood.train({**PARAMS, "metric": "binary_logloss"}, sapwood.Dataset(tr, label=y[:600]),
                      valid_sets=[sapwood.Dataset(va, label=y[600:])], valid_names=["va"])
    p = b.predict(va)
    ll = -np.mean(y[600:] * np.log(p) + (1 - y[600:]) * np.log(1 - p))
    assert b.evals_result["va"]["logloss"][-1] == pytest.approx(ll, rel=1e-9)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    n=st.integers(30, 200),
    n_cats=st.integers(1, 12),
    null_rate=st.floats(0, 0.5),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_random_tables(n, n_cats, null_rate, seed):
    rng = np.random.default_rng(seed)
    cats = np.array([f"v{k}" for k in range(n_cats)], dtype=object)
    c = cats[rng.integers(0, n_cats, n)]
    c[rng.random(n) < null_rate] = None
    x = rng.normal(size=n)
    x[rng.random(n) < null_rate] = np.nan
    iv = pd.array(rng.integers(0, 4, n), dtype="Int32")
    iv[rng.random(n) < null_rate] = pd.NA
    df = pd.DataFrame({"c": pd.Categorical(c), "x": x, "i": iv})
    y = rng.normal(size=n)
    params = {"n_estimators": 3, "num_leaves": 4, "min_child_samples": 2, "n_jobs": 1,
              "min_data_per_group": 1, "cat_smooth": 0.0, "cat_min_count": 1}
    b = sapwood.train(params, sapwood.Dataset(df, label=y))
    ref = b.predict(df)
    assert np.isfinite(ref).all()
    t = pa.Table.from_pandas(df, preserve_index=False)
    np.testing.assert_allclose(b.predict(t), ref, atol=1e-12)
    np.testing.assert_allclose(b.predict(pl.from_arrow(t)), ref, atol=1e-12)
    np.testing.assert_allclose(b.predict(df[["i", "x", "c"]]), ref, atol=1e-12)
    b2 = sapwood.train(params, sapwood.Dataset(t, label=y))
    np.testing.assert_allclose(b2.predict(df), ref, atol=1e-12)


def test_date_and_time_columns_are_refused_not_guessed() -> None:
    """Datetime/timedelta columns are not silently turned into categories (every timestamp its
    own category) but refused with the column named; listing one explicitly is allowed."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    n = 60
    df = pd.DataFrame({"x": np.arange(n, dtype=float),
                       "when": pd.date_range("2024-01-01", periods=n, freq="h")})
    y = np.arange(n) % 2
    for data in (df, df.assign(when=df["when"] - df["when"].iloc[0]),
                 pa.Table.from_pandas(df), pl.from_pandas(df)):
        with pytest.raises(sapwood.DataError, match="'when' holds dates/times"):
            sapwood.Dataset(data, y)
    ds = sapwood.Dataset(df, y, categorical_features=["when"])
    assert ds.num_features == 2
