"""Binning and histograms against plain numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sapwood import _core

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def reference_bins(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """bin(v) = first i with float32(v) <= edges[i]; NaN -> len(edges) + 1."""
    v = x.astype(np.float32)
    out = np.searchsorted(edges, v, side="left").astype(np.int64)
    out[np.isnan(v)] = len(edges) + 1
    return out


values = st.one_of(
    st.floats(-1e6, 1e6, width=32),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.5]),
)


@SETTINGS
@given(
    data=hnp.arrays(np.float32, st.tuples(st.integers(1, 300), st.integers(1, 4)), elements=values),
    max_bin=st.sampled_from([2, 3, 7, 16, 255]),
)
def test_edges_and_codes_match_reference(data: np.ndarray, max_bin: int) -> None:
    edges = _core.fit_bin_edges(data, max_bin, 200_000, 0, 1)
    assert len(edges) == data.shape[1]
    codes = _core.BinnedMatrix.from_dense(data, edges, 2).to_numpy()
    for f, e in enumerate(edges):
        e = np.asarray(e)
        assert e.dtype == np.float32
        assert np.all(np.diff(e) > 0), "edges strictly increasing"
        assert len(e) <= max_bin - 1, "at most max_bin numeric bins"
        assert not np.isnan(e).any()
        np.testing.assert_array_equal(codes[:, f], reference_bins(data[:, f], e))
        col = data[:, f][~np.isnan(data[:, f])]
        distinct = np.unique(col)
        if 0 < distinct.size <= max_bin:
            # every distinct value gets its own bin
            assert len(e) == distinct.size - 1
            assert np.unique(reference_bins(distinct, e)).size == distinct.size
        # +-inf land in the outermost numeric bins
        if np.isinf(col).any():
            b = reference_bins(np.array([np.inf, -np.inf], dtype=np.float32), e)
            assert b[0] == len(e) and b[1] == 0


def test_quantile_bins_are_balanced() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, 1)).astype(np.float32)
    edges = np.asarray(_core.fit_bin_edges(x, 64, 200_000, 0, 1)[0])
    assert 60 <= len(edges) <= 63
    counts = np.bincount(reference_bins(x[:, 0], edges))
    assert counts.max() < 2.5 * len(x) / 64
    # edges close to the true quantiles
    qs = np.quantile(x[:, 0], np.linspace(0, 1, 65)[1:-1])
    assert np.max(np.abs(np.sort(edges)[: len(qs)] - qs[: len(edges)])) < 0.2


def test_heavy_value_gets_own_bin() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(10_000).astype(np.float32)
    x[:3000] = 0.0
    edges = np.asarray(_core.fit_bin_edges(x.reshape(-1, 1), 16, 200_000, 0, 1)[0])
    b = reference_bins(x, edges)
    zero_bin = b[0]
    assert np.all(x[b == zero_bin] == 0.0)


def test_constant_and_all_nan_columns() -> None:
    x = np.column_stack([np.full(50, 3.0), np.full(50, np.nan), np.arange(50.0)]).astype(np.float32)
    edges = _core.fit_bin_edges(x, 255, 200_000, 0, 1)
    assert len(edges[0]) == 0 and len(edges[1]) == 0 and len(edges[2]) == 49
    codes = _core.BinnedMatrix.from_dense(x, edges, 1).to_numpy()
    assert np.all(codes[:, 0] == 0)
    assert np.all(codes[:, 1] == 1)  # the NaN bin of a feature with no edges


def test_one_row() -> None:
    x = np.array([[1.0, np.nan, -np.inf]], dtype=np.float64)
    edges = _core.fit_bin_edges(x, 255, 200_000, 0, 1)
    codes = _core.BinnedMatrix.from_dense(x, edges, 1).to_numpy()
    np.testing.assert_array_equal(codes[0], [0, 1, 0])


def test_sampling_is_seeded_and_bounded() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((20_000, 2)).astype(np.float32)
    a = _core.fit_bin_edges(x, 32, 1000, 7, 1)
    b = _core.fit_bin_edges(x, 32, 1000, 7, 2)
    c = _core.fit_bin_edges(x, 32, 1000, 8, 1)
    for ea, eb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert any(not np.array_equal(ea, ec) for ea, ec in zip(a, c, strict=True))


def test_wide_bins_use_uint16() -> None:
    x = np.arange(2000, dtype=np.float32).reshape(-1, 1)
    edges = _core.fit_bin_edges(x, 1000, 200_000, 0, 1)
    bm = _core.BinnedMatrix.from_dense(x, edges, 1)
    assert bm.is_wide
    codes = bm.to_numpy()[:, 0]
    np.testing.assert_array_equal(codes, reference_bins(x[:, 0], np.asarray(edges[0])))
    assert codes.max() == len(edges[0])
    narrow = _core.BinnedMatrix.from_dense(x, _core.fit_bin_edges(x, 255, 200_000, 0, 1), 1)
    assert not narrow.is_wide


def test_float64_and_fortran_inputs_bin_like_float32() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 3))
    edges = _core.fit_bin_edges(x.astype(np.float32), 16, 200_000, 0, 1)
    a = _core.BinnedMatrix.from_dense(x.astype(np.float32), edges, 1).to_numpy()
    b = _core.BinnedMatrix.from_dense(x, edges, 1).to_numpy()
    c = _core.BinnedMatrix.from_dense(np.asfortranarray(x), edges, 2).to_numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@SETTINGS
@given(
    n=st.integers(1, 3000),
    m=st.integers(1, 5),
    seed=st.integers(0, 2**31),
    subset=st.booleans(),
    threads=st.sampled_from([1, 2]),
)
def test_histogram_matches_numpy(n: int, m: int, seed: int, subset: bool, threads: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    if m > 1:
        x[:, 1] = 1.0  # a constant column
    edges = _core.fit_bin_edges(x, 16, 200_000, 0, 1)
    bm = _core.BinnedMatrix.from_dense(x, edges, 1)
    codes = bm.to_numpy().astype(np.int64)
    g = rng.integers(-(2**40), 2**40, n)
    h = rng.integers(0, 2**20, n)
    rows = np.flatnonzero(rng.random(n) < 0.5).astype(np.uint32) if subset else np.arange(
        n, dtype=np.uint32)
    if subset and rows.size == 0:
        rows = np.array([0], dtype=np.uint32)
    off, hg, hh, hc = _core.build_histogram(bm, rows, g, h, 13, threads)
    for f in range(m):
        nb = len(edges[f]) + 2
        assert off[f + 1] - off[f] == nb
        ref_g = np.zeros(nb, np.int64)
        ref_h = np.zeros(nb, np.int64)
        ref_c = np.zeros(nb, np.int64)
        np.add.at(ref_g, codes[rows, f], g[rows])
        np.add.at(ref_h, codes[rows, f], h[rows])
        np.add.at(ref_c, codes[rows, f], 1)
        np.testing.assert_array_equal(hg[off[f]:off[f + 1]], ref_g)
        np.testing.assert_array_equal(hh[off[f]:off[f + 1]], ref_h)
        np.testing.assert_array_equal(hc[off[f]:off[f + 1]], ref_c)


def test_bad_binning_inputs() -> None:
    from sapwood import DataError, ParameterError

    with pytest.raises(ParameterError, match="max_bin"):
        _core.fit_bin_edges(np.zeros((3, 1), np.float32), 1, 10, 0, 1)
    with pytest.raises(DataError, match="float32 or float64"):
        _core.fit_bin_edges(np.zeros((3, 1), np.int64), 16, 10, 0, 1)
    with pytest.raises(DataError, match="2-D"):
        _core.fit_bin_edges(np.zeros(3, np.float32), 16, 10, 0, 1)


def reference_edges(values: np.ndarray, max_bin: int) -> np.ndarray:
    """FindEdges in numpy: cuts between distinct float32 values, greedy equal-frequency when
    there are more distinct values than bins (a heavy next value closes the bin early)."""
    v = values.astype(np.float32)
    v = v[~np.isnan(v)]
    if v.size == 0 or max_bin <= 1:
        return np.empty(0, np.float32)
    distinct, counts = np.unique(v, return_counts=True)

    def cut(a: np.float32, b: np.float32) -> np.float32:
        m = np.float32((np.float64(a) + np.float64(b)) * 0.5)
        return m if np.isfinite(m) and a <= m < b else a

    edges = []
    if distinct.size <= max_bin:
        edges = [cut(distinct[i], distinct[i + 1]) for i in range(distinct.size - 1)]
    else:
        remaining, bins_left, cur = float(v.size), max_bin, 0.0
        for i in range(distinct.size - 1):
            if bins_left <= 1:
                break
            cur += counts[i]
            target = remaining / bins_left
            if cur >= target or counts[i + 1] >= target:
                edges.append(cut(distinct[i], distinct[i + 1]))
                remaining -= cur
                cur = 0.0
                bins_left -= 1
    out = np.asarray(edges, dtype=np.float32)
    return out[np.concatenate([[True], np.diff(out) != 0])] if out.size else out


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.5, 1e-45, -1e-45, 3.4e38,
                    -3.4e38, 1.17549435e-38], dtype=np.float32)


@pytest.mark.parametrize("n", [50, 5000, 70_000])  # small inputs std::sort, large radix sort
@pytest.mark.parametrize("kind", ["normal", "ints", "special", "cluster"])
def test_edges_match_numpy_reference(n: int, kind: str) -> None:
    rng = np.random.default_rng(n)
    if kind == "normal":
        x = rng.normal(size=n).astype(np.float32)
    elif kind == "ints":
        x = rng.integers(-300, 300, n).astype(np.float32)
    elif kind == "special":
        x = rng.choice(SPECIAL, n).astype(np.float32)
        x[: n // 2] = rng.normal(size=n // 2) * 1e-3
    else:  # many edges inside one lookup bucket
        x = (1000 + rng.random(n) * 0.01).astype(np.float32)
    for max_bin in (2, 16, 255, 1000):
        e = np.asarray(_core.fit_bin_edges(x.reshape(-1, 1), max_bin, n, 0, 1)[0])
        np.testing.assert_array_equal(e, reference_edges(x, max_bin))
        # the table lookup (used for matrices of >= 16384 rows) bins exactly like searchsorted
        probe = np.concatenate([x, SPECIAL, e, np.nextafter(e, np.float32(np.inf)),
                                np.nextafter(e, np.float32(-np.inf))]).astype(np.float32)
        np.testing.assert_array_equal(_core.lookup_bins(probe, e), reference_bins(probe, e))


@SETTINGS
@given(
    x=hnp.arrays(np.float32, st.integers(1, 400), elements=values),
    edges=hnp.arrays(np.float32, st.integers(0, 300),
                     elements=st.floats(-1e6, 1e6, width=32), unique=True),
)
def test_lookup_bins_match_searchsorted(x: np.ndarray, edges: np.ndarray) -> None:
    e = np.unique(edges + np.float32(0.0))  # strictly increasing, -0.0 folded into 0.0
    probe = np.concatenate([x, e, np.nextafter(e, np.float32(np.inf)),
                            np.nextafter(e, np.float32(-np.inf))]).astype(np.float32)
    np.testing.assert_array_equal(_core.lookup_bins(probe, e), reference_bins(probe, e))


def test_large_matrix_bins_through_lookup_like_reference() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40_000, 3)).astype(np.float32)
    x[::7, 0] = np.nan
    x[::5, 1] = rng.choice(SPECIAL, x[::5, 1].shape)
    x[:, 2] = 1000 + rng.random(40_000).astype(np.float32) * 0.01
    for max_bin in (255, 1000):  # uint8 and uint16 codes
        edges = _core.fit_bin_edges(x, max_bin, 10_000, 0, 2)
        codes = _core.BinnedMatrix.from_dense(x, edges, 2).to_numpy()
        streamed = _core.binned_allocate(x.shape[0], edges, [-1, -1, -1])
        _core.binned_fill_columns(streamed, 0, [x[:, j].copy() for j in range(3)], 2)
        for f in range(3):
            ref = reference_bins(x[:, f], np.asarray(edges[f]))
            np.testing.assert_array_equal(codes[:, f], ref)
            np.testing.assert_array_equal(streamed.to_numpy()[:, f], ref)
