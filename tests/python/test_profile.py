"""sapwood.Profile: the one-pass kernel against numpy references, exact merge, adapters, JSON."""

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sapwood
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sapwood import ModelFormatError, Profile
from sapwood.monitoring.profile import QUANTILES, NumericColumnProfile


def _finite(x):
    x = np.asarray(x, dtype=np.float64)
    return x[np.isfinite(x)]


def _check_numeric(col: NumericColumnProfile, x: np.ndarray) -> None:
    f = _finite(x)
    assert col.finite_count == f.size
    assert col.null_count == int(np.isnan(x.astype(np.float64)).sum())
    assert col.pos_inf_count == int(np.isposinf(x).sum())
    assert col.neg_inf_count == int(np.isneginf(x).sum())
    # bins: float32 "v <= edge", as the trees compare
    with np.errstate(over="ignore"):
        ref_bins = np.searchsorted(col.edges, f.astype(np.float32), side="left")
    np.testing.assert_array_equal(np.bincount(ref_bins, minlength=col.counts.size), col.counts)
    if f.size:
        assert col.min == f.min() and col.max == f.max()
        # exact sums -> correctly rounded mean and variance
        exact_mean = sum((Fraction(float(v)) for v in f), Fraction(0)) / f.size
        assert col.mean == float(exact_mean)
        with np.errstate(over="ignore"):
            np_mean = np.mean(f)
        # numpy's float sum can overflow where the exact one does not, and its rounding error
        # scales with the largest magnitude (terms next to 1e300 are absorbed); the Fraction
        # mean above is the exact reference
        if np.isfinite(np_mean):
            assert col.mean == pytest.approx(
                np_mean, rel=1e-12, abs=1e-12 * float(np.max(np.abs(f))) + 1e-300)
        if np.all(np.abs(f) < 1e150):
            # against the exact variance (numpy's rounding gives e.g. 3e-33 for equal values)
            exact_var = sum(((Fraction(float(v)) - exact_mean) ** 2 for v in f),
                            Fraction(0)) / f.size
            scale = float(np.max(f.astype(np.float64) ** 2))
            assert col.variance == pytest.approx(float(exact_var), rel=1e-9,
                                                 abs=1e-12 * scale + 1e-300)
    else:
        assert math.isnan(col.mean) and math.isnan(col.min)


floats = hnp.arrays(
    np.float64, st.integers(0, 300),
    elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                       st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, 1.0, 5e-324])))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(floats, st.integers(2, 64))
@example(np.full(10, 1 / 3), 2)  # equal values: numpy's variance is 3e-33, the exact one 0
@example(np.full(2, 8.98846567431158e307), 2)  # numpy's mean overflows to inf
def test_kernel_matches_numpy_reference(x, fine_bins):
    p = Profile.from_data(x.reshape(-1, 1), fine_bins=fine_bins)
    _check_numeric(p["f0"], x)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(hnp.arrays(np.float32, st.integers(1, 200),
                  elements=st.floats(width=32, allow_nan=True, allow_infinity=True)))
def test_kernel_float32(x):
    _check_numeric(Profile.from_data(x.reshape(-1, 1), fine_bins=16)["f0"], x)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                   np.uint32, np.uint64, np.float32, np.bool_])
def test_kernel_dtypes(dtype):
    rng = np.random.default_rng(3)
    x = (rng.integers(0, 100, 5000)).astype(dtype)
    col = Profile.from_data(x.reshape(-1, 1), fine_bins=32)["f0"]
    _check_numeric(col, x.astype(np.float64))


def test_quantiles_within_one_bin():
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=200_000)
    col = Profile.from_data(x.reshape(-1, 1))["f0"]
    got = col.quantile(QUANTILES)
    want = np.quantile(x, QUANTILES)
    lo, hi = col.bin_bounds()
    for g, w in zip(got, want, strict=True):
        b = int(np.searchsorted(col.edges, np.float32(w), side="left"))
        width = hi[b] - lo[b]
        assert abs(g - w) <= width + 1e-12
    assert set(col.quantiles) == {"p0.1", "p1", "p5", "p25", "p50", "p75", "p95", "p99", "p99.9"}


def test_range_bins_empty_on_the_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10_000)
    col = Profile.from_data(x.reshape(-1, 1))["f0"]
    assert col.counts[0] == 0 and col.counts[-1] == 0
    assert col.edges[-1] == np.float32(x.max())


@pytest.mark.parametrize("splits", [[1], [5, 17], [2049, 4096, 9000], [12_345]])
def test_merge_equals_one_pass(splits):
    rng = np.random.default_rng(2)
    n = 20_000
    X = rng.standard_normal((n, 4)) * [1, 1e3, 1e-3, 7]
    X[rng.random((n, 4)) < 0.01] = np.nan
    X[5, 2] = np.inf
    df = pd.DataFrame(X, columns=list("abcd"))
    df["cat"] = rng.choice(["x", "y", None], n)
    whole = Profile.from_data(df)
    bounds = [0, *splits, n]
    parts = [Profile.from_data(df.iloc[a:b], edges_from=whole)
             for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    merged = parts[0].merge(*parts[1:])
    again = Profile.from_data(df, edges_from=whole)
    assert merged == again
    assert merged.to_json() == again.to_json()
    # thread count does not change anything
    assert Profile.from_data(df, edges_from=whole, n_jobs=1) == \
        Profile.from_data(df, edges_from=whole, n_jobs=2)


def test_merge_rejects_different_edges():
    a = Profile.from_data(np.arange(100.0).reshape(-1, 1))
    b = Profile.from_data(np.arange(50.0).reshape(-1, 1))
    with pytest.raises(sapwood.DataError, match="f0"):
        a.merge(b)


def test_adapters_agree_and_categoricals():
    rng = np.random.default_rng(4)
    n = 3000
    X = rng.standard_normal((n, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["s"] = rng.choice(["u", "v", "w"], n)
    df.loc[::10, "s"] = None
    df["k"] = pd.Categorical(rng.choice(["p", "q"], n), categories=["p", "q", "r"])
    df["i"] = rng.integers(0, 5, n)
    p_pd = Profile.from_data(df)
    p_pa = Profile.from_data(pa.Table.from_pandas(df, preserve_index=False), edges_from=p_pd)
    p_pd2 = Profile.from_data(df, edges_from=p_pd)
    for name in df.columns:
        a, b = p_pd2[name].to_dict(), p_pa[name].to_dict()
        a.pop("dtype"), b.pop("dtype")
        assert a == b, name
    s = p_pd["s"]
    assert s.kind == "categorical" and s.null_count == int(df["s"].isna().sum())
    vc = df["s"].value_counts()
    assert s.as_dict() == {k: int(v) for k, v in vc.items()}
    assert p_pd["k"].as_dict() == {k: int(v) for k, v in df["k"].value_counts().items() if v}
    # numpy: C and Fortran order read in place give the same profile
    pc = Profile.from_data(np.ascontiguousarray(X))
    pf = Profile.from_data(np.asfortranarray(X))
    assert pc == pf
    # forced categorical
    pi = Profile.from_data(df, categorical=["i"])
    assert pi["i"].kind == "categorical" and sorted(pi["i"].categories) == ["0", "1", "2", "3", "4"]


def test_predictions_profiled_like_a_feature():
    X = np.random.default_rng(0).standard_normal((500, 2))
    p = Profile.from_data(X, predictions=X[:, 0] * 2)
    assert "__prediction__" in p
    _check_numeric(p["__prediction__"], X[:, 0] * 2)
    p2 = Profile.from_data(X, predictions=np.c_[X[:, 0], X[:, 1]])
    assert "__prediction_0__" in p2 and "__prediction_1__" in p2


def test_booster_edges_are_refined_not_replaced():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3000, 3))
    y = X[:, 0] + rng.standard_normal(3000) * 0.1
    b = sapwood.train({"n_estimators": 5, "max_bin": 31}, sapwood.Dataset(X, y))
    p = sapwood.monitoring.profile_for_booster(b, X)
    for name, edges in zip(b.feature_names, b.bin_edges, strict=True):
        assert np.isin(edges, p[name].edges).all()
        assert p[name].edges.size > edges.size
    assert "__prediction__" in p


def test_json_roundtrip_and_versioning(tmp_path):
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"a": rng.standard_normal(100), "s": rng.choice(["x", "y"], 100)})
    df.loc[3, "a"] = np.nan
    p = Profile.from_data(df)
    assert Profile.from_json(p.to_json()) == p
    path = tmp_path / "p.json"
    p.save(path)
    q = Profile.load(path)
    assert q == p and q["a"].mean == p["a"].mean and q["a"].variance == p["a"].variance
    assert json.loads(p.to_json())["version"] == 1
    all_null = Profile.from_data(np.full((4, 1), np.nan))
    assert Profile.from_json(all_null.to_json()) == all_null


def _bad(d, mutate):
    d = json.loads(json.dumps(d))
    mutate(d)
    return d


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d.update(version=99), "version"),
    (lambda d: d.update(num_rows=-1), "num_rows"),
    (lambda d: d.update(columns={}), "columns"),
    (lambda d: d["columns"][0].update(counts=[1, 2]), "columns[0].counts"),
    (lambda d: d["columns"][0].update(edges=[2.0, 1.0]), "columns[0].edges"),
    (lambda d: d["columns"][0].update(edges="x"), "columns[0].edges"),
    (lambda d: d["columns"][0].update(sum="zz"), "columns[0].sum"),
    (lambda d: d["columns"][0].update(null_count=-3), "columns[0].null_count"),
    (lambda d: d["columns"][0].update(kind="weird"), "columns[0].kind"),
    (lambda d: d["columns"][0].pop("name"), "columns[0].name"),
    (lambda d: d["columns"][1].update(counts=[1]), "columns[1].counts"),
    (lambda d: d["columns"][1].update(categories=[1, 2]), "columns[1].categories"),
    (lambda d: d["columns"][0]["counts"].__setitem__(3, 10**6), "columns[0]"),
])
def test_malformed_json_names_the_field(mutate, field):
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.standard_normal(50), "s": rng.choice(["x", "y"], 50)})
    d = Profile.from_data(df, fine_bins=8).to_dict()
    with pytest.raises(ModelFormatError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Profile.from_dict(_bad(d, mutate))


def test_not_json_and_bad_inputs():
    with pytest.raises(ModelFormatError):
        Profile.from_json("{not json")
    with pytest.raises(sapwood.DataError):
        Profile.from_data(np.zeros(5))
    with pytest.raises(sapwood.DataError, match="duplicate"):
        Profile.from_data(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(sapwood.DataError):
        Profile.from_data(object())
    p = Profile.from_data(np.zeros((0, 2)))
    assert p.num_rows == 0 and p["f0"].finite_count == 0


@pytest.mark.parametrize("case", ["clustered", "wide_range", "zero_edges", "few", "offset"])
def test_bin_lookup_on_hard_edges(case):
    """The table-driven bin lookup (scalar and SIMD paths, cells holding several edges) gives
    exactly numpy's float32 "v <= edge" bins, on edges built to stress it."""
    rng = np.random.default_rng(11)
    if case == "clustered":  # many edges packed into a tiny range among spread ones
        e = np.concatenate([1 + np.arange(400) * 1e-6, np.linspace(-50, 50, 300)])
    elif case == "wide_range":  # magnitudes from 1e-30 to 1e30, both signs
        m = np.logspace(-30, 30, 500)
        e = np.concatenate([-m, m])
    elif case == "zero_edges":  # -0 / +0 and subnormals
        e = np.array([-1.0, -1e-40, 0.0, 1e-45, 1e-40, 1.0])
    elif case == "few":
        e = np.array([0.5])
    else:  # data far from zero: 1e6 + small spread
        e = 1e6 + np.sort(rng.standard_normal(1000)) * 3
    e = np.unique(e.astype(np.float32))
    x = np.concatenate([
        rng.choice(e.astype(np.float64), 3000),  # exactly on edges
        np.nextafter(rng.choice(e, 3000), np.float32(np.inf)).astype(np.float64),
        np.nextafter(rng.choice(e, 3000), np.float32(-np.inf)).astype(np.float64),
        rng.standard_normal(5000) * float(np.abs(e).max() + 1),
        rng.standard_normal(5000) * 1e-3 + float(np.median(e)),
        [0.0, -0.0, 1e300, 5e-324, np.nan, np.inf, -np.inf],
    ])
    rng.shuffle(x)
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype) if dtype is np.float64 else np.clip(x, -3e38, 3e38).astype(dtype)
        col = Profile.from_data(xd.reshape(-1, 1), edges_from={"f0": e})["f0"]
        np.testing.assert_array_equal(col.edges, e)
        _check_numeric(col, xd)


def test_thread_count_does_not_change_the_profile():
    """Many row tasks (contiguous and strided columns) taken by 1, 2 or 3 threads in any
    order merge to the same bytes."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300_000, 3)) * [1.0, 1e-3, 1e6]
    X[rng.random(300_000) < 0.01, 1] = np.nan
    df = pd.DataFrame({"a": X[:, 0].copy(), "b": X[:, 1].copy()})
    base = Profile.from_data(X)  # row-major: strided columns
    for n in (1, 2, 3):
        assert Profile.from_data(X, n_jobs=n) == base
        assert Profile.from_data(np.asfortranarray(X), n_jobs=n) == base
    ref = Profile.from_data(df, n_jobs=1)
    assert Profile.from_data(df, edges_from=ref, n_jobs=3) == Profile.from_data(
        df, edges_from=ref, n_jobs=1)


def test_exact_sums_across_chunks_of_far_apart_magnitudes():
    """Row chunks (64k rows each) whose values lie hundreds of binades apart merge exactly: the
    sums keep only the digits their values reach, and grow the window on merge."""
    from sapwood.monitoring.profile import _S1

    n = 65_536
    vals = [5e-324, 1e308, -1e308, 3.0, -2.5e-300]
    x = np.concatenate([np.full(n, v) for v in vals] + [np.array([7.0])])
    for X in (x.reshape(-1, 1), np.c_[x, x]):  # contiguous and strided columns
        for n_jobs in (1, 2):
            col = Profile.from_data(X, n_jobs=n_jobs)["f0"]
            exact = sum((n * Fraction(v) for v in vals), Fraction(7)) / x.size
            assert col.mean == float(exact)
            assert col.sum_exact == (n * sum(Fraction(v) for v in vals) + 7) * 2**_S1
            assert col.min == -1e308 and col.max == 1e308
    # all cancelling: the exact sum is zero
    z = np.concatenate([np.full(n, 1e300), np.full(n, -1e300)]).reshape(-1, 1)
    assert Profile.from_data(z)["f0"].sum_exact == 0


_WIDE_SCRIPT = """
import resource, sys
import numpy as np
import sapwood
mode = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.standard_normal((5, 20_000))
y = rng.standard_normal(5)
if mode == "fortran":
    X = np.asfortranarray(X)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode == "train":
    b = sapwood.train({"n_estimators": 2, "n_jobs": 2}, sapwood.Dataset(X, y))
    assert b.reference_profile is not None
else:
    p = sapwood.Profile.from_data(X, n_jobs=2)
    assert len(p.columns) == 20_000
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024)
"""


@pytest.mark.parametrize("mode", ["c_order", "fortran", "train"])
def test_wide_table_profile_memory_is_bounded(mode):
    """Issue 14 item 11: 5 rows x 20k columns. The profile held a 64 KiB bin table and an 8 KiB
    tile per column (and per thread, a copy of every column's stats): ~1.1 GB here. Now a few
    KB per column: the peak RSS growth must stay under 8 KB per column (160 MB), measured in a
    fresh process."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _WIDE_SCRIPT, mode], capture_output=True,
                         text=True, timeout=300, env=dict(os.environ), check=True)
    growth_mb = float(out.stdout.strip().splitlines()[-1])
    assert growth_mb < 160, f"{mode}: peak RSS grew by {growth_mb:.0f} MB"


_specials = st.sampled_from([np.inf, -np.inf, np.nan, 3.4028234663852886e38,
                             -3.4028234663852886e38, 1e300, -1e300, 0.0, -0.0, 5e-324, 2.5])


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 60), st.integers(1, 3)),
                  elements=st.one_of(_specials, st.floats(-1e3, 1e3))),
       st.lists(st.one_of(_specials, st.floats(-10, 10, width=32)), max_size=6))
def test_every_profile_stores_and_loads(X, model_edges):
    """Issue 14 item 1: whatever the data (+-inf, NaN, all-NaN, constant, values at and beyond
    the float32 limits) and whatever a model's bin edges hold (-inf among them), the profile's
    edges are finite and strictly increasing, it survives JSON, and the same data counted over
    its edges gives the same profile."""
    from types import SimpleNamespace

    with np.errstate(over="ignore"):  # 1e300 becomes a float32 inf edge, as intended
        e = np.unique(np.asarray([v for v in model_edges if not np.isnan(v)], dtype=np.float32))
    model = SimpleNamespace(feature_names=[f"f{j}" for j in range(X.shape[1])],
                            bin_edges=[e] * X.shape[1])
    for edges_from in (None, model):
        p = Profile.from_data(X, edges_from=edges_from, fine_bins=8)
        for j in range(X.shape[1]):
            col = p[f"f{j}"]
            assert np.isfinite(col.edges).all() and (np.diff(col.edges) > 0).all()
            _check_numeric(col, X[:, j])
            if edges_from is model:  # the model's finite edges are all kept
                assert np.isin(e[np.isfinite(e)], col.edges).all()
        assert Profile.from_json(p.to_json()) == p
        assert Profile.from_data(X, edges_from=p) == p


# --------------------------------------------------------------- the AVX-512 profile kernel
_avx512 = pytest.mark.skipif(not sapwood._core.profile_avx512_available(),
                             reason="the CPU lacks AVX-512 F/BW/VL/DQ")


def _raw_profiles(columns, edges, kernel, n_threads=1, fine_bins=64):
    from sapwood import _core

    rows = len(columns[0])
    return _core.profile_numeric(columns, rows, edges, [None] * len(columns), fine_bins,
                                 200_000, 0, n_threads, kernel)


def _same_entry(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2:6] == b[2:6]
    for x, y in zip(a[6:8], b[6:8], strict=True):  # min / max, the sign of a zero included
        assert (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) ==
                                                     math.copysign(1, y))
    assert a[8:] == b[8:]


_mixed = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(-1e6, 1e6), st.floats(-1e-3, 1e-3),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, -2.2250738585072014e-308, 1e300, 3.4e38,
                     3.5e38, -1e39]))


@_avx512
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, st.integers(0, 2600), elements=_mixed),
       st.sampled_from(["fitted", "given", "few"]), st.integers(0, 3))
def test_avx512_profile_equals_portable_and_exact_reference(x, edges_kind, scale):
    """The AVX-512 pass (vector min / max, one-gather bin lookup, exact sums in 8 lanes with
    values below the lanes' window through the buckets) gives the portable pass's profile, bit
    for bit, and the exact sums of the values (Fraction reference)."""
    from sapwood import _core

    with np.errstate(over="ignore"):
        x = x * 10.0**(scale * 40) if scale else x  # far-apart magnitudes in one block
        x32 = x.astype(np.float32)
    edges = None
    if edges_kind != "fitted":
        f = np.sort(_finite(x32))
        k = 40 if edges_kind == "given" else 5  # >= 32 edges: the bin table path
        edges = np.unique(f[np.linspace(0, f.size - 1, k).astype(int)]) if f.size else \
            np.array([0.0], np.float32)
        edges = edges[np.isfinite(edges)] if edges.size else edges
    cols = [x, x32, x[::2]] if x.size else [x]
    for col in cols:
        col = np.ascontiguousarray(col) if col is not x[::2] else col
        a = _raw_profiles([col], [edges], "avx512")
        b = _raw_profiles([col], [edges], "portable")
        _same_entry(a[0], b[0])
        f = _finite(col)
        exact = sum((Fraction(float(v)) for v in f), Fraction(0))
        assert Fraction(a[0][8], 2**_core.exact_sum_scale_bits) == exact
        exact_sq = sum((Fraction(float(v)) ** 2 for v in f), Fraction(0))
        assert Fraction(a[0][9], 2**_core.exact_sum_sq_scale_bits) == exact_sq
        with np.errstate(over="ignore"):
            ref_bins = np.searchsorted(a[0][0], f.astype(np.float32), side="left")
        np.testing.assert_array_equal(np.bincount(ref_bins, minlength=a[0][1].size), a[0][1])


@_avx512
def test_avx512_profile_large_columns_and_threads():
    """Long columns of several distributions (tasks of many blocks, bin tables with wide cells,
    integer columns) on 1 and 2 threads: the same profile as the portable pass."""
    rng = np.random.default_rng(7)
    n = 150_000
    cols = [rng.standard_normal(n), rng.lognormal(0, 4, n), rng.integers(-5, 5, n) * 1.0,
            np.where(rng.random(n) < 0.05, np.nan, rng.standard_normal(n) * 1e-200),
            rng.integers(0, 1000, n).astype(np.int32), rng.random(n).astype(np.float32)]
    cols[2][::7] = -0.0
    base = _raw_profiles(cols, [None] * len(cols), "portable", fine_bins=1024)
    edges = [np.asarray(b[0], np.float32) for b in base]
    for threads in (1, 2):
        for e in ([None] * len(cols), edges):
            a = _raw_profiles(cols, e, "avx512", threads, fine_bins=1024)
            b = _raw_profiles(cols, e, "portable", threads, fine_bins=1024)
            for u, v in zip(a, b, strict=True):
                _same_entry(u, v)


def test_profile_kernel_name_is_checked():
    with pytest.raises(sapwood.ParameterError, match="kernel"):
        _raw_profiles([np.zeros(3)], [None], "avx1024")
