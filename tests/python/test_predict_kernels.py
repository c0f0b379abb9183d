"""Each batch and single-row prediction kernel against the plain Python tree walk.

The kernel is chosen per forest shape and call (rank-coded: the AVX-512 row-mask kernel for
batches, or the AVX2 bit-vector kernel on CPUs without AVX-512, with the scalar two-level lock
step for trees of more than 256 leaves and on CPUs without AVX2; the AVX2 tree lock step for few
rows; float thresholds for categorical and zero-as-missing splits, and for few rows without
AVX2). ``Forest.set_kernel`` chooses each rank-coded kernel for one forest ("super": the
portable ones, no AVX2), so every kernel runs here on a machine that has AVX-512; the AVX-512
cases are skipped on CPUs without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from test_predict import GRID, make_booster, random_rows, random_tree, walk

KERNELS = ("auto", "lockstep-avx2", "super", "bitvector-avx2", "bitvector-avx512")


def _cpu_has_avx512() -> bool:
    rng = np.random.default_rng(0)
    forest = make_booster([random_tree(rng, 3, 8, False)], 3)._get_forest()
    forest.set_kernel("bitvector-avx512")
    return "avx512" in forest.kernel


HAS_AVX512 = _cpu_has_avx512()
needs_avx512 = pytest.mark.skipif(not HAS_AVX512, reason="this CPU lacks AVX-512")


def forest_with_thresholds(rng: np.random.Generator, m: int, leaves: int, n_trees: int,
                           special: bool) -> list[dict[str, np.ndarray]]:
    trees = [random_tree(rng, m, leaves, special) for _ in range(n_trees)]
    # Besides the shared grid, many distinct thresholds per feature (ranks up to hundreds).
    for t in trees:
        internal = t["feature"] >= 0
        fresh = rng.normal(0, 3, size=int(internal.sum())).astype(np.float32)
        keep = rng.random(fresh.size) < 0.5
        t["threshold"][internal] = np.where(keep, t["threshold"][internal], fresh)
    return trees


def expected(trees: list[dict[str, np.ndarray]], X: np.ndarray, init: np.ndarray,
             k: int) -> np.ndarray:
    out = np.tile(init, (X.shape[0], 1))
    for j, t in enumerate(trees):
        for r in range(X.shape[0]):
            out[r, j % k] += t["value"][walk(t, X[r])]
    return out[:, 0] if k == 1 else out


@settings(derandomize=True, deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), leaves=st.sampled_from([1, 2, 12, 63, 200]),
       m=st.sampled_from([1, 5, 40, 130]), special=st.booleans(), k=st.sampled_from([1, 3]),
       n_rows=st.sampled_from([1, 3, 15, 16, 17, 40, 129, 300]))
def test_every_kernel_matches_python_walk(seed: int, leaves: int, m: int, special: bool, k: int,
                                          n_rows: int) -> None:
    rng = np.random.default_rng(seed)
    n_trees = int(rng.integers(1, 20)) * k
    trees = forest_with_thresholds(rng, m, leaves, n_trees, special)
    b = make_booster(trees, m, k, "multiclass" if k > 1 else "regression")
    X = random_rows(rng, n_rows, m)
    # Rows that sit exactly on thresholds of the model.
    thr = np.concatenate([t["threshold"][t["feature"] >= 0] for t in trees] + [GRID])
    on = rng.random(X.shape) < 0.3
    X[on] = rng.choice(thr, size=int(on.sum()))
    expect = expected(trees, X, b.init_score, k)
    has_special = special and any(np.any(t.get("split_type", np.zeros(1)) != 0) for t in trees)
    for name in KERNELS:
        forest = b._get_forest()
        forest.set_kernel(name)
        assert forest.kernel_choice == name
        if name == "super":
            assert "avx2" not in forest.kernel and "avx2" not in forest.single_row_kernel
        if name == "bitvector-avx512" and HAS_AVX512 and not has_special:
            assert forest.kernel.startswith("quant-bitvector-avx512")
        if has_special:
            assert forest.kernel == forest.single_row_kernel == "float-special"
        # strided float32 views (every other row and column of a wider array) are read in
        # place, as are C- and Fortran-ordered arrays
        wide = np.zeros((2 * n_rows, 2 * m), dtype=np.float32)
        wide[::2, ::2] = X
        for arr in (X, X.astype(np.float64), np.asfortranarray(X), wide[::2, ::2]):
            got = b.predict(arr, output="raw")
            np.testing.assert_allclose(got, expect, rtol=0, atol=1e-12)
            # single rows and small batches take the few-rows path; same sums, bit for bit
            single = np.stack([b.predict(arr[i:i + 1], output="raw")[0] for i in range(n_rows)])
            np.testing.assert_array_equal(single, got)
            np.testing.assert_array_equal(b.predict(arr[:3], output="raw"), got[:3])
        np.testing.assert_array_equal(b.predict(X, output="raw", n_jobs=1),
                                      b.predict(X, output="raw", n_jobs=2))


def test_kernel_choice_by_shape() -> None:
    rng = np.random.default_rng(1)
    small = make_booster([random_tree(rng, 8, 63, False) for _ in range(4)], 8)
    wide = make_booster([random_tree(rng, 200, 8, False) for _ in range(4)], 200)
    cat = make_booster([random_tree(rng, 8, 8, True) for _ in range(8)], 8)
    big = [random_tree(rng, 8, 60, False)]
    while int((big[-1]["feature"] < 0).sum()) <= 256:
        big[-1] = random_tree(rng, 8, 600, False)
    mixed = make_booster([random_tree(rng, 8, 10, False)] + big, 8)
    for b in (small, wide, mixed, cat):
        b._get_forest().set_kernel("super")
    assert small._get_forest().kernel == "quant-super"
    assert small._get_forest().single_row_kernel == "float"
    assert wide._get_forest().kernel == "quant-super"
    assert mixed._get_forest().kernel == "quant-super"
    assert cat._get_forest().kernel == "float-special"
    for b in (small, wide, mixed, cat):
        b._get_forest().set_kernel("auto")
    if small._get_forest().single_row_kernel != "float":  # a CPU with AVX2
        simd = "avx512" if HAS_AVX512 else "avx2"  # auto: AVX-512 where the CPU has it
        assert small._get_forest().kernel == f"quant-bitvector-{simd}"
        one_row = "quant-rowmask-avx512" if HAS_AVX512 else "quant-lockstep-avx2"
        assert small._get_forest().single_row_kernel == one_row
        # trees of more than 64 leaves are walked one row at a time
        assert mixed._get_forest().single_row_kernel == "quant-lockstep-avx2"
        # trees of more than 256 leaves are walked, the others take the bit vectors
        assert mixed._get_forest().kernel == f"quant-bitvector-{simd}+super"
        assert wide._get_forest().kernel == f"quant-bitvector-{simd}"
        for b in (small, wide, mixed):
            b._get_forest().set_kernel("bitvector-avx2")
        assert small._get_forest().kernel == "quant-bitvector-avx2"
        assert mixed._get_forest().kernel == "quant-bitvector-avx2+super"
        for b in (small, wide, mixed):
            b._get_forest().set_kernel("bitvector-avx512")
        assert small._get_forest().kernel == f"quant-bitvector-{simd}"  # AVX2 without AVX-512
        assert mixed._get_forest().kernel == f"quant-bitvector-{simd}+super"
        assert small._get_forest().single_row_kernel == one_row
        small._get_forest().set_kernel("super")
        assert small._get_forest().kernel == "quant-super"
        assert small._get_forest().single_row_kernel == "float"
        small._get_forest().set_kernel("lockstep-avx2")
        assert small._get_forest().kernel == "quant-super"
        assert small._get_forest().single_row_kernel == "quant-lockstep-avx2"
    # 400 code columns do not fit the 8 bits of the AVX2 single-row layout
    assert wide._get_forest().single_row_kernel == "float"
    with pytest.raises(sapwood.ParameterError, match="kernel"):
        small._get_forest().set_kernel("fastest")
    assert small._get_forest().kernel_choice == "lockstep-avx2"  # a bad name changes nothing


def test_bitvector_word_boundaries_match_walk() -> None:
    # Trees of exactly 1, 16, 17, 32, 33, ... leaves (the 16-leaf words and 64-leaf groups of
    # the bit-vector kernel, and its 256-leaf limit), with rows on thresholds and NaN.
    rng = np.random.default_rng(7)
    trees = []
    for n in (1, 16, 17, 32, 33, 48, 49, 64, 65, 128, 129, 200, 255, 256, 257):
        while True:
            t = random_tree(rng, 6, n, False)
            if int((t["feature"] < 0).sum()) == n:
                break
        trees.append(t)
    b = make_booster(trees, 6)
    X = random_rows(rng, 333, 6)
    thr = np.concatenate([t["threshold"][t["feature"] >= 0] for t in trees])
    on = rng.random(X.shape) < 0.3
    X[on] = rng.choice(thr, size=int(on.sum()))
    expect = expected(trees, X, b.init_score, 1)
    for name in KERNELS:
        b._get_forest().set_kernel(name)
        np.testing.assert_allclose(b.predict(X, output="raw"), expect, rtol=0, atol=1e-12)


@needs_avx512
@settings(derandomize=True, deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), n_thr=st.sampled_from([1, 2, 254, 255, 256, 300]),
       # (leaf values of trees of at most 16, 32 and 64 leaves are picked by 1, 2 and 4
       # permutes, of larger trees gathered)
       leaves=st.sampled_from([1, 2, 16, 17, 32, 33, 63, 64, 65, 256]),
       n_rows=st.sampled_from([1, 16, 17, 63, 64, 65, 127, 128, 129, 300]))
def test_avx512_row_masks_match_walk(seed: int, n_thr: int, leaves: int, n_rows: int) -> None:
    # The AVX-512 row-mask kernel reads byte codes when every feature has at most 255
    # thresholds (NaN going right as 255, like a value above every threshold) and int16 codes
    # otherwise; 64 rows per mask word, two words per block of 128 rows. Feature 0's thresholds
    # are the n_thr values of a pool (255 and 256 straddle the byte codes), and rows sit on,
    # between, below and above them, with NaN and +-inf.
    rng = np.random.default_rng(seed)
    pool = np.sort(rng.normal(0, 3, size=n_thr).astype(np.float32))
    trees = []
    while len(trees) < 6:
        t = random_tree(rng, 3, leaves, False)
        internal = t["feature"] >= 0
        t["threshold"][internal] = rng.choice(pool, size=int(internal.sum()))
        trees.append(t)
    # then trees splitting feature 0 on the pool's values in turn, until every one is used
    used = 0
    while used < n_thr:
        t = random_tree(rng, 3, 256, False)
        internal = np.flatnonzero(t["feature"] >= 0)
        t["feature"][internal] = 0
        t["threshold"][internal] = pool[(used + np.arange(internal.size)) % n_thr]
        used += internal.size
        trees.append(t)
    b = make_booster(trees, 3)
    near = np.concatenate([pool, np.nextafter(pool, np.float32(np.inf)),
                           np.array([np.nan, np.inf, -np.inf, 0.0], dtype=np.float32)])
    X = rng.choice(near, size=(n_rows, 3)).astype(np.float32)
    X[:, 1:] = random_rows(rng, n_rows, 2)
    expect = expected(trees, X, b.init_score, 1)
    forest = b._get_forest()
    forest.set_kernel("bitvector-avx512")
    assert forest.kernel.startswith("quant-bitvector-avx512")
    np.testing.assert_allclose(b.predict(X, output="raw"), expect, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.predict(X, output="raw", n_jobs=2), expect, rtol=0, atol=1e-12)
    # the same sums, bit for bit, as the AVX2 kernel (leaves added in tree order)
    avx512 = b.predict(X, output="raw")
    forest.set_kernel("bitvector-avx2")
    np.testing.assert_array_equal(b.predict(X, output="raw"), avx512)


@needs_avx512
@pytest.mark.parametrize("m", [5, 20, 40])
def test_avx512_single_row_matches_walk(m: int) -> None:
    # One row, AVX-512: every split of a tree tested at once (32 per compare, codes picked by a
    # permute from 1, 2 or 4 registers: 2 * m code columns), leaf masks of 64 bits: trees of
    # exactly 1, 2, 32, 33, 63 and 64 leaves, rows on thresholds, NaN and +-inf.
    rng = np.random.default_rng(m)
    trees = []
    for n in (1, 2, 32, 33, 63, 64, 64, 63):
        while True:
            t = random_tree(rng, m, n, False)
            if int((t["feature"] < 0).sum()) == n:
                break
        trees.append(t)
    b = make_booster(trees, m)
    X = random_rows(rng, 60, m)
    thr = np.concatenate([t["threshold"][t["feature"] >= 0] for t in trees])
    on = rng.random(X.shape) < 0.3
    X[on] = rng.choice(thr, size=int(on.sum()))
    expect = expected(trees, X, b.init_score, 1)
    forest = b._get_forest()
    for name in ("auto", "bitvector-avx512"):
        forest.set_kernel(name)
        assert forest.single_row_kernel == "quant-rowmask-avx512"
        single = np.stack([b.predict(X[i:i + 1], output="raw")[0] for i in range(60)])
        np.testing.assert_allclose(single, expect, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(b.predict(X[:5], output="raw"), single[:5])
        np.testing.assert_array_equal(single, b.predict(X, output="raw"))


def test_crowded_thresholds_rank_exactly() -> None:
    # Rank codes: batches search each feature's thresholds 8 rows at a time; few rows go
    # through per-feature tables whose crowded cells (here 60 adjacent floats, and thresholds
    # around zero, denormals and huge values) fall back to a search. Rows sit on, just below
    # and just above every threshold.
    rng = np.random.default_rng(11)
    crowded = [np.float32(1.0)]
    for _ in range(59):
        crowded.append(np.nextafter(crowded[-1], np.float32(2.0)))
    special = np.array([-0.0, 0.0, 1e-40, -1e-40, 1e-30, -3.4e38, 3.4e38, -2.5, 7.0, 1e6],
                       dtype=np.float32)
    pool = np.concatenate([np.array(crowded, dtype=np.float32), special])
    trees = []
    for _ in range(12):
        t = random_tree(rng, 3, 40, False)
        internal = t["feature"] >= 0
        t["threshold"][internal] = rng.choice(pool, size=int(internal.sum()))
        trees.append(t)
    b = make_booster(trees, 3)
    near = np.concatenate([pool, np.nextafter(pool, np.float32(-np.inf)),
                           np.nextafter(pool, np.float32(np.inf)),
                           np.array([np.nan, np.inf, -np.inf], dtype=np.float32)])
    X = rng.choice(near, size=(500, 3)).astype(np.float32)
    expect = expected(trees, X, b.init_score, 1)
    for name in KERNELS:
        b._get_forest().set_kernel(name)
        np.testing.assert_allclose(b.predict(X, output="raw"), expect, rtol=0, atol=1e-12)
        single = np.stack([b.predict(X[i:i + 1], output="raw")[0] for i in range(40)])
        np.testing.assert_allclose(single, expect[:40], rtol=0, atol=1e-12)


def test_predict_columns_equals_the_matrix_path() -> None:
    # A scoring job's batches are scored from one float32 array per feature, in place.
    rng = np.random.default_rng(5)
    trees = forest_with_thresholds(rng, 7, 40, 9, False)
    b = make_booster(trees, 7)
    X = random_rows(rng, 300, 7)
    forest = b._get_forest()
    if not forest.columns_kernel:
        pytest.skip("no AVX2 here: the column path is not offered")
    expect = expected(trees, X, b.init_score, 1)
    for n in (300, 100, 17, 1, 0):
        cols = [np.ascontiguousarray(X[:n, j]) for j in range(7)]
        got = b.predict_columns(cols, "raw", 2)
        np.testing.assert_allclose(got, expect[:n], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got, b.predict(X[:n], output="raw"))
    cols = [np.ascontiguousarray(X[:, j]) for j in range(7)]
    with pytest.raises(sapwood.DataError, match="6 columns for 7 features"):
        b.predict_columns(cols[:6], "raw", 1)
    with pytest.raises(sapwood.DataError, match="column 2 must be a contiguous 1-D float32"):
        b.predict_columns(cols[:2] + [cols[2].astype(np.float64)] + cols[3:], "raw", 1)
    with pytest.raises(sapwood.DataError, match="column 3 has 299 rows"):
        b.predict_columns(cols[:3] + [cols[3][:299]] + cols[4:], "raw", 1)
    forest.set_kernel("super")  # batches forced onto the walk: no column path
    assert not b._get_forest().columns_kernel
    with pytest.raises(sapwood.ParameterError, match="bit-vector kernel"):
        b.predict_columns(cols, "raw", 1)


def test_kernel_choice_belongs_to_the_forest() -> None:
    # Choosing a kernel for one forest leaves every other forest (even of the same trees) on
    # its own choice; threads predicting on differently set forests agree with the walk.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    trees = forest_with_thresholds(rng, 6, 40, 12, False)
    a = make_booster(trees, 6)
    b = make_booster([{k: v.copy() for k, v in t.items()} for t in trees], 6)
    X = random_rows(rng, 200, 6)
    expect = expected(trees, X, a.init_score, 1)
    auto_kernel = b._get_forest().kernel
    a._get_forest().set_kernel("super")
    assert a._get_forest().kernel == "quant-super"
    assert b._get_forest().kernel_choice == "auto"
    assert b._get_forest().kernel == auto_kernel

    def run(booster: sapwood.Booster) -> np.ndarray:
        return np.stack([booster.predict(X, output="raw", n_jobs=1) for _ in range(5)])

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [a, b, a, b]))
    for got in results:
        np.testing.assert_allclose(got, np.broadcast_to(expect, got.shape), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(results[0], results[1])


def test_one_split_decision_and_public_headers() -> None:
    # Issue 13: the CUDA predictor kept its own copy of the split decision (and of the
    # zero-as-missing constant), and the bindings included a private header from cpp/src.
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "cpp"
    for src in sorted((root / "bindings").glob("*.[ch]pp")):
        for inc in re.findall(r'^#include "([^"]+)"', src.read_text(), flags=re.M):
            assert inc == "common.hpp" or inc.startswith("sapwood/"), (src.name, inc)
    cu = (root / "src" / "cuda" / "predict.cu").read_text()
    assert "predict/decision.hpp" in cu and "predict::GoRight(" in cu
    assert "1e-35" not in cu and "bool GoRight(" not in cu
    decisions = [p.name for p in (root / "src").rglob("*.*")
                 if "1e-35f" in p.read_text() and p.suffix in (".cpp", ".hpp", ".cu")]
    assert decisions == ["decision.hpp"]


# ------------------------------------------------------------------ predict's cached scorer
def test_single_row_scorer_follows_the_booster() -> None:
    """Booster.predict's fast path (a Scorer with the objective, init score and tree range
    resolved once) gives the Python walk's values and follows every change the per-call path
    followed: best_iteration, objective, init_score (replaced or updated in place), new rounds;
    inputs it declines (other dtypes, widths, byte order, 1-D) take the general path."""
    from test_predict import make_booster, random_rows, random_tree, walk

    rng = np.random.default_rng(11)
    m = 6
    trees = [random_tree(rng, m, 12, False) for _ in range(8)]
    b = make_booster(trees, m, 1, "binary")
    X = random_rows(rng, 40, m)

    def margin(rows: np.ndarray, n_trees: int) -> np.ndarray:
        return np.array([b.init_score[0] + sum(t["value"][walk(t, r)] for t in trees[:n_trees])
                         for r in rows])

    def check(n_trees: int) -> None:
        raw = margin(X, n_trees)
        for i in (0, 17):
            row = X[i:i + 1]
            for arr in (row, row.astype(np.float64), np.asfortranarray(row)):
                np.testing.assert_allclose(b.predict(arr, output="raw"), raw[i:i + 1],
                                           atol=1e-12)
                np.testing.assert_allclose(b.predict(arr), 1 / (1 + np.exp(-raw[i:i + 1])),
                                           atol=1e-12)
        np.testing.assert_allclose(b.predict(X, output="raw"), raw, atol=1e-12)

    check(8)
    assert b._scorers is not None
    b.best_iteration = 5
    check(5)
    b.best_iteration = None
    b.init_score = np.array([-1.5])  # replaced
    check(8)
    b.init_score[0] = 0.75  # updated in place
    check(8)
    b.objective = "regression"  # identity link now
    np.testing.assert_allclose(b.predict(X[:1]), margin(X[:1], 8), atol=1e-12)
    b.objective = "binary"
    b.add_round([random_tree(rng, m, 12, False)])
    trees = b._trees
    check(9)
    # declined inputs: the general path converts or names what is wrong
    np.testing.assert_allclose(b.predict(X[:3].astype(">f4"), output="raw"),
                               margin(X[:3], 9), atol=1e-6)
    np.testing.assert_allclose(b.predict(np.zeros((3, m), np.int32), output="raw"),
                               margin(np.zeros((3, m), np.float32), 9), atol=1e-12)
    with pytest.raises(sapwood.DataError):
        b.predict(X[:1, :5])
    with pytest.raises(sapwood.DataError):
        b.predict(X[0])
    with pytest.raises(sapwood.DataError):
        b.predict(np.zeros((1, m), np.complex64))


def test_scorer_checks_its_arguments() -> None:
    from test_predict import make_booster, random_tree

    rng = np.random.default_rng(2)
    b = make_booster([random_tree(rng, 3, 6, False) for _ in range(3)], 3, 1, "binary")
    b.predict(np.zeros((1, 3), np.float32))
    f = b._forest
    with pytest.raises(sapwood.ModelFormatError):
        f.scorer(0, 3, np.zeros(2), "binary", 1, True)
    with pytest.raises(sapwood.ParameterError):
        f.scorer(0, 3, np.zeros(1), "no-such-objective", 1, True)
    with pytest.raises(sapwood.ParameterError):
        f.scorer(0, 9, np.zeros(1), "binary", 1, True).predict(np.zeros((1, 3)), 1)
    sc = f.scorer(0, 3, np.zeros(1), "binary", 1, False)
    assert sc.predict(np.zeros((2, 4)), 1) is None
    assert sc.predict([[0.0, 0.0, 0.0]], 1) is None
    assert sc.predict(np.zeros((2, 3), np.int64), 1) is None


@needs_avx512
@pytest.mark.parametrize("n_thr", [255, 256])
def test_avx512_single_row_byte_and_word_slots(n_thr: int) -> None:
    # One row, AVX-512 QuickScorer: a forest whose features have at most 255 thresholds each
    # tests its splits on byte codes (64 splits per compare: NaN going right and values above
    # every threshold saturate to 255, above rank 254), one with 256 on 16-bit codes. Feature 0
    # gets exactly n_thr distinct thresholds; rows sit on, just below and just above them, and
    # at NaN and +-inf.
    rng = np.random.default_rng(n_thr)
    pool = np.sort(rng.normal(0, 2, size=n_thr).astype(np.float32))
    assert np.unique(pool).size == n_thr
    trees, used = [], 0
    for _ in range(40):
        while True:
            t = random_tree(rng, 2, 64, False)
            if int((t["feature"] < 0).sum()) >= 40:
                break
        internal = np.flatnonzero(t["feature"] >= 0)
        t["feature"][internal] = 0
        t["threshold"][internal] = pool[(used + np.arange(internal.size)) % n_thr]
        used += internal.size
        trees.append(t)
    assert used >= n_thr
    b = make_booster(trees, 2)
    near = np.concatenate([pool, np.nextafter(pool, np.float32(-np.inf)),
                           np.nextafter(pool, np.float32(np.inf)),
                           np.array([np.nan, np.inf, -np.inf], dtype=np.float32)])
    X = rng.choice(near, size=(300, 2)).astype(np.float32)
    X[:3, 0] = [np.nan, np.inf, np.float32(pool[-1] + 1)]
    expect = expected(trees, X, b.init_score, 1)
    forest = b._get_forest()
    for name in ("auto", "bitvector-avx512"):
        forest.set_kernel(name)
        assert forest.single_row_kernel == "quant-rowmask-avx512"
        single = np.stack([b.predict(X[i:i + 1], output="raw")[0] for i in range(300)])
        np.testing.assert_allclose(single, expect, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(single, b.predict(X, output="raw"))


def chain_tree(rng: np.random.Generator, thr: np.ndarray, right_chain: bool) -> dict[str, np.ndarray]:
    """A caterpillar on feature 0: every split has a leaf child, the other child the next split
    (right_chain: the chain goes right, thresholds ascending; else left, descending)."""
    n = thr.size
    feature, threshold, left, right = [], [], [], []
    for i in range(n):
        at = len(feature)
        kids = (at + 1, at + 2)
        feature += [0, -1]  # the split, then its leaf child
        threshold += [float(thr[i] if right_chain else thr[n - 1 - i]), 0.0]
        left += [kids[0] if right_chain else kids[1], -1]
        right += [kids[1] if right_chain else kids[0], -1]
        if i == n - 1:  # the last split's other child is a leaf too
            feature.append(-1)
            threshold.append(0.0)
            left.append(-1)
            right.append(-1)
    size = len(feature)
    return {
        "feature": np.array(feature, np.int32),
        "threshold": np.array(threshold, np.float32),
        "default_left": rng.integers(0, 2, size=size).astype(np.uint8),
        "left": np.array(left, np.int32),
        "right": np.array(right, np.int32),
        "value": rng.normal(size=size),
        "hess": np.ones(size),
    }


@needs_avx512
@pytest.mark.parametrize("n_thr", [255, 256])
def test_avx512_row_masks_on_256_leaf_chains(n_thr: int) -> None:
    # The row-mask kernel numbers each row's leaf by summing, over the splits it goes right at,
    # the leaves of their left subtrees, one byte per row: caterpillars of 256 leaves reach the
    # extremes (255 splits adding 1 each; a root whose left subtree holds 255 leaves). 255
    # thresholds on feature 0 give byte codes, a 256th (in a one-split tree) 16-bit codes. Rows
    # sit on every threshold, just above it, and at NaN, +-inf; every kernel against the walk,
    # and the AVX-512 sums bit for bit equal to the AVX2 kernel's.
    rng = np.random.default_rng(n_thr)
    pool = np.sort(rng.choice(np.arange(-600, 600), size=n_thr, replace=False)).astype(np.float32)
    pool /= np.float32(8)
    trees = [chain_tree(rng, pool[:255], True), chain_tree(rng, pool[:255], False)]
    if n_thr == 256:
        trees.append(chain_tree(rng, pool[255:], True))
    extra = random_tree(rng, 2, 63, False)
    extra["feature"][extra["feature"] >= 0] = 1  # feature 0 keeps the pool's thresholds only
    trees.append(extra)
    b = make_booster(trees, 2)
    vals = np.concatenate([pool, np.nextafter(pool, np.float32(np.inf)),
                           np.array([np.nan, np.inf, -np.inf], dtype=np.float32)])
    X = np.stack([rng.permutation(vals), rng.choice(vals, size=vals.size)], axis=1)
    X = np.ascontiguousarray(X, dtype=np.float32)
    expect = expected(trees, X, b.init_score, 1)
    forest = b._get_forest()
    results = {}
    for name in KERNELS:
        forest.set_kernel(name)
        results[name] = b.predict(X, output="raw")
        np.testing.assert_allclose(results[name], expect, rtol=0, atol=1e-12)
    forest.set_kernel("bitvector-avx512")
    assert forest.kernel.startswith("quant-bitvector-avx512")
    np.testing.assert_array_equal(b.predict(X, output="raw", n_jobs=2), results["bitvector-avx2"])
    np.testing.assert_array_equal(results["bitvector-avx512"], results["bitvector-avx2"])
