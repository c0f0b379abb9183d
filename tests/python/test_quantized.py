"""Quantized-gradient training (use_quantized_grad): exact narrow histograms, determinism across
thread counts, accuracy against unquantized training and LightGBM's quantized training, leaf
re-fitting, parameter checks and the model file."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import sapwood
from conftest import make_classification, make_regression
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import ParameterError, _core
from sklearn.metrics import roc_auc_score


def _tree_arrays(b: sapwood.Booster) -> list[dict[str, np.ndarray]]:
    return [{k: np.asarray(v) for k, v in t.items()} for t in b.trees()]


def _assert_same_trees(a: sapwood.Booster, b: sapwood.Booster) -> None:
    ta, tb = _tree_arrays(a), _tree_arrays(b)
    assert len(ta) == len(tb)
    for x, y in zip(ta, tb, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


# ----------------------------------------------------------------------------- histograms
def _reference(codes: np.ndarray, rows: np.ndarray, g: np.ndarray, h: np.ndarray,
               nb: int, f: int) -> tuple[np.ndarray, ...]:
    ref_g = np.zeros(nb, np.int64)
    ref_h = np.zeros(nb, np.int64)
    ref_c = np.zeros(nb, np.int64)
    np.add.at(ref_g, codes[rows, f], g[rows])
    np.add.at(ref_h, codes[rows, f], h[rows])
    np.add.at(ref_c, codes[rows, f], 1)
    return ref_g, ref_h, ref_c


@settings(deadline=None, derandomize=True, max_examples=40)
@given(
    n=st.integers(1, 3000),
    m=st.integers(1, 4),
    seed=st.integers(0, 2**31),
    levels=st.sampled_from([2, 3, 4, 16, 127]),
    extreme=st.sampled_from(["random", "max", "min"]),
    subset=st.booleans(),
    threads=st.sampled_from([1, 2]),
)
def test_quantized_histogram_matches_numpy(n: int, m: int, seed: int, levels: int, extreme: str,
                                           subset: bool, threads: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, m)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    edges = _core.fit_bin_edges(x, 16, 200_000, 0, 1)
    bm = _core.BinnedMatrix.from_dense(x, edges, 1)
    codes = bm.to_numpy().astype(np.int64)
    gmax = (levels + 1) // 2
    if extreme == "random":
        g = rng.integers(-gmax, gmax + 1, n)
        h = rng.integers(0, levels + 1, n)
    else:  # every row at the largest level: the sums are as large as they can be
        g = np.full(n, gmax if extreme == "max" else -gmax, np.int64)
        h = np.full(n, levels, np.int64)
    rows = np.flatnonzero(rng.random(n) < 0.5).astype(np.uint32) if subset else np.arange(
        n, dtype=np.uint32)
    if rows.size == 0:
        rows = np.array([0], dtype=np.uint32)
    off, hg, hh, hc = _core.build_histogram(bm, rows, g, h, 13, threads, levels)
    wide = _core.build_histogram(bm, rows, g, h, 13, threads)
    for got, want in zip((off, hg, hh, hc), wide, strict=True):
        np.testing.assert_array_equal(got, want)
    for f in range(m):
        nb = int(off[f + 1] - off[f])
        ref_g, ref_h, ref_c = _reference(codes, rows, g, h, nb, f)
        np.testing.assert_array_equal(hg[off[f]:off[f + 1]], ref_g)
        np.testing.assert_array_equal(hh[off[f]:off[f + 1]], ref_h)
        np.testing.assert_array_equal(hc[off[f]:off[f + 1]], ref_c)


def test_bin_width_follows_the_row_count() -> None:
    # 4 levels: count, hessian (<= 4n) and signed gradient (|G| <= 2n) fields of the word
    assert _core.quantized_bin_bytes(1, 4) == 4
    assert _core.quantized_bin_bytes(511, 4) == 4  # 9 + 11 + 11 = 31 bits
    assert _core.quantized_bin_bytes(512, 4) == 8  # 10 + 12 + 12 = 34 bits
    assert _core.quantized_bin_bytes(2**20 - 1, 4) == 8  # 20 + 22 + 22 = 64 bits
    assert _core.quantized_bin_bytes(2**20, 4) == 16  # 21 + 23 + 23: the 16-byte bins
    assert _core.quantized_bin_bytes(2**16, 127) == 8  # 17 + 23 + 24 = 64 bits
    assert _core.quantized_bin_bytes(2**17, 127) == 16
    assert _core.quantized_bin_bytes(2**14, 127) == 8


@pytest.mark.parametrize("n", [511, 512, 2**20 - 1, 2**20])
def test_no_overflow_with_every_row_at_the_largest_level(n: int) -> None:
    # One feature whose rows all fall in one bin: that bin holds the node's whole sums, at the
    # edge of each bin width (4 -> 8 -> 16 bytes), for the largest positive and negative levels.
    x = np.zeros((n, 1), np.float32)
    x[: n // 2, 0] = 1.0
    edges = _core.fit_bin_edges(x, 4, 200_000, 0, 1)
    bm = _core.BinnedMatrix.from_dense(x, edges, 1)
    rows = np.arange(n, dtype=np.uint32)
    h = np.full(n, 4, np.int64)
    for sign in (1, -1):
        g = np.full(n, 2 * sign, np.int64)
        g[n // 2:] = -2 * sign  # the other bin: the opposite extreme
        off, hg, hh, hc = _core.build_histogram(bm, rows, g, h, 21, 2, 4)
        b0, b1 = int(off[0]) + 0, int(off[0]) + 1
        assert (hg[b0], hh[b0], hc[b0]) == (-2 * sign * (n - n // 2), 4 * (n - n // 2), n - n // 2)
        assert (hg[b1], hh[b1], hc[b1]) == (2 * sign * (n // 2), 4 * (n // 2), n // 2)
        # the whole node in one bin: a column of one value
        one = _core.BinnedMatrix.from_dense(np.zeros((n, 1), np.float32), edges, 1)
        g_all = np.full(n, 2 * sign, np.int64)
        off, hg, hh, hc = _core.build_histogram(one, rows, g_all, h, 21, 2, 4)
        assert int(hg.sum()) == 2 * sign * n and int(hh.sum()) == 4 * n and int(hc.sum()) == n
        assert int(np.count_nonzero(hc)) == 1


def test_histogram_rejects_levels_out_of_range() -> None:
    x = np.zeros((4, 1), np.float32)
    edges = _core.fit_bin_edges(x, 4, 100, 0, 1)
    bm = _core.BinnedMatrix.from_dense(x, edges, 1)
    rows = np.arange(4, dtype=np.uint32)
    with pytest.raises(sapwood.DataError, match="row 2"):
        _core.build_histogram(bm, rows, np.array([0, 1, 3, 0]), np.ones(4, np.int64), 3, 1, 4)


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("params", [
    {"objective": "binary"},
    {"objective": "binary", "subsample": 0.7, "colsample_bytree": 0.5, "num_grad_quant_bins": 16},
    {"objective": "regression", "reg_alpha": 0.3, "quant_train_renew_leaf": False},
    {"objective": "multiclass", "num_class": 3, "subsample": 0.8},
])
def test_quantized_same_model_on_one_and_two_threads(params: dict) -> None:
    classes = params.get("num_class", 2)
    if params["objective"] == "regression":
        X, y = make_regression(20_000, m=10, seed=21)
    else:
        X, y = make_classification(20_000, m=10, classes=classes, seed=21, nan_share=0.03)
    base = {"n_estimators": 12, "num_leaves": 31, "random_state": 5, "use_quantized_grad": True,
            **params}
    boosters = [sapwood.train({**base, "n_jobs": j}, sapwood.Dataset(X, y)) for j in (1, 2)]
    _assert_same_trees(boosters[0], boosters[1])
    np.testing.assert_array_equal(boosters[0].predict(X, output="raw"),
                                  boosters[1].predict(X, output="raw"))
    # quantization is on (the trees differ from full precision) and seeded by random_state
    exact = sapwood.train({**base, "use_quantized_grad": False, "n_jobs": 2}, sapwood.Dataset(X, y))
    other = sapwood.train({**base, "random_state": 6, "n_jobs": 2}, sapwood.Dataset(X, y))
    p = boosters[0].predict(X, output="raw")
    assert not np.array_equal(p, exact.predict(X, output="raw"))
    assert not np.array_equal(p, other.predict(X, output="raw"))


def test_quantized_accuracy_close_to_full_precision_and_to_lightgbm() -> None:
    X, y = make_classification(80_000, m=12, seed=1, nan_share=0.02)
    Xtr, ytr, Xte, yte = X[:60_000], y[:60_000], X[60_000:], y[60_000:]
    base = {"objective": "binary", "n_estimators": 100, "num_leaves": 31, "n_jobs": 2,
            "random_state": 0}
    full = sapwood.train(base, sapwood.Dataset(Xtr, ytr))
    quant = sapwood.train({**base, "use_quantized_grad": True}, sapwood.Dataset(Xtr, ytr))
    lq = lgb.train({"objective": "binary", "num_leaves": 31, "verbose": -1, "num_threads": 2,
                    "seed": 0, "use_quantized_grad": True}, lgb.Dataset(Xtr, ytr), 100)
    auc_full = roc_auc_score(yte, full.predict(Xte))
    auc_quant = roc_auc_score(yte, quant.predict(Xte))
    auc_lgb = roc_auc_score(yte, lq.predict(Xte))
    assert abs(auc_quant - auc_full) < 0.002, (auc_quant, auc_full)
    assert auc_quant > auc_lgb - 0.002, (auc_quant, auc_lgb)


def test_renewed_leaves_are_the_full_precision_newton_step() -> None:
    # L2 loss, no regularisation: the first tree's leaf values are learning_rate * the mean
    # residual of the leaf's rows (from the full-precision gradients), however the quantized
    # sums chose the splits.
    X, y = make_regression(6000, m=6, seed=22)
    base = {"objective": "regression", "n_estimators": 1, "num_leaves": 15, "learning_rate": 0.3,
            "use_quantized_grad": True, "num_grad_quant_bins": 4, "n_jobs": 1}
    b = sapwood.train(base, sapwood.Dataset(X, y))
    leaf = b.predict(X, output="leaf")[:, 0]
    t = _tree_arrays(b)[0]
    resid = y - y.mean()
    for node in np.unique(leaf):
        want = 0.3 * resid[leaf == node].mean()
        assert t["value"][node] == pytest.approx(want, rel=1e-9, abs=1e-9)
        assert t["count"][node] == int((leaf == node).sum())
    assert t["hess"][0] == pytest.approx(len(y))  # cover from the full-precision hessians
    # without re-fitting, the leaf values come from the quantized sums and differ
    raw = sapwood.train({**base, "quant_train_renew_leaf": False}, sapwood.Dataset(X, y))
    t2 = _tree_arrays(raw)[0]
    np.testing.assert_array_equal(t2["feature"], t["feature"])  # same splits (same draws)
    leaves = t["feature"] < 0
    assert not np.allclose(t2["value"][leaves], t["value"][leaves], rtol=1e-6)


def test_min_child_samples_is_exact_under_quantization() -> None:
    X, y = make_regression(3000, m=5, seed=23)
    b = sapwood.train({"n_estimators": 5, "num_leaves": 63, "min_child_samples": 97,
                       "use_quantized_grad": True}, sapwood.Dataset(X, y))
    leaves = b.predict(X, output="leaf")
    for k in range(leaves.shape[1]):
        counts = np.unique(leaves[:, k], return_counts=True)[1]
        assert counts.min() >= 97


def test_quantized_params_are_checked() -> None:
    X, y = make_regression(300, m=4, seed=24)
    ds = sapwood.Dataset(X, y)
    for bad, match in [
        ({"use_quantized_grad": "yes"}, "use_quantized_grad"),
        ({"use_quantized_grad": True, "num_grad_quant_bins": 1}, "num_grad_quant_bins"),
        ({"use_quantized_grad": True, "num_grad_quant_bins": 128}, "num_grad_quant_bins"),
        ({"use_quantized_grad": True, "num_grad_quant_bins": 4.5}, "num_grad_quant_bins"),
        ({"quant_train_renew_leaf": 1}, "quant_train_renew_leaf"),
        ({"use_quantized_grad": True, "monotone_constraints": [1, 0, 0, 0]}, "quant_train_renew_leaf"),
    ]:
        with pytest.raises(ParameterError, match=match):
            sapwood.train({"n_estimators": 2, **bad}, ds)
    # monotone constraints hold without re-fitting
    b = sapwood.train({"n_estimators": 3, "use_quantized_grad": True,
                       "quant_train_renew_leaf": False, "monotone_constraints": [1, 0, 0, 0]}, ds)
    grid = np.tile(X[:1], (50, 1))
    grid[:, 0] = np.linspace(X[:, 0].min(), X[:, 0].max(), 50)
    assert np.all(np.diff(b.predict(grid)) >= -1e-12)


def test_dask_training_refuses_quantized_gradients() -> None:
    pytest.importorskip("dask.dataframe")
    import pandas as pd
    from dask import dataframe as dd
    from sapwood import dask as sdask

    df = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0]}),
                        npartitions=1)
    with pytest.raises(ParameterError, match="use_quantized_grad"):
        sdask.train({"use_quantized_grad": True}, df, label="y", client=object())


def test_quantized_model_round_trips_through_the_file() -> None:
    X, y = make_classification(5000, m=6, seed=25, nan_share=0.05)
    b = sapwood.train({"objective": "binary", "n_estimators": 10, "use_quantized_grad": True,
                       "num_grad_quant_bins": 8}, sapwood.Dataset(X, y))
    back = sapwood.Booster.from_bytes(b.to_bytes())
    np.testing.assert_array_equal(back.predict(X, output="raw"), b.predict(X, output="raw"))
    assert back.params["use_quantized_grad"] is True
    assert back.params["num_grad_quant_bins"] == 8
    assert back.to_bytes() == b.to_bytes()


# ------------------------------------------------------------- split search on packed words
def _golden_data(n: int, seed: int) -> tuple[Any, np.ndarray]:
    """Regression data with NaN, a many-vs-many and a one-hot categorical; y is polynomial (no
    transcendental function), so squared-error training is the same arithmetic everywhere."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6))
    c40 = rng.integers(0, 40, n)
    c3 = rng.integers(0, 3, n)
    y = (2 * X[:, 0] + X[:, 1] * X[:, 2] - X[:, 3] ** 2 + 0.05 * c40 - 0.7 * (c3 == 1)
         + 0.3 * rng.standard_normal(n))
    X[rng.random(X.shape) < 0.03] = np.nan
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    df["c40"] = pd.Categorical(c40)
    df["c3"] = pd.Categorical(c3)
    return df, y


def _trees_digest(b: sapwood.Booster) -> str:
    import hashlib

    h = hashlib.sha256()
    for t in b.trees():
        for k in sorted(t.keys()):
            a = np.ascontiguousarray(np.asarray(t[k]))
            h.update(k.encode())
            h.update(str(a.dtype).encode())
            h.update(a.tobytes())
    return h.hexdigest()


# Digests of the trees grown when every quantized histogram was widened into 16-byte bins
# before the split search (the build before the search read the packed words directly). The
# search on the words must choose the same splits, bit for bit: same gains, same leaves.
# Nodes of every width meet here: 4-byte (<= 511 rows), 8-byte, and with 127 levels on 112k
# rows a root in 16-byte bins, so each mixed-width sibling subtraction runs.
@pytest.mark.parametrize(("n", "seed", "extra", "digest"), [
    (20_000, 0, {}, "af6a9774c1c44d703e3c7d06fe6f8af2ac2c3e93d92da2d7cec3b401d54decf9"),
    (20_000, 1, {"num_grad_quant_bins": 16, "subsample": 0.8, "colsample_bytree": 0.7},
     "94b3cdf6626a0b0ccf897fb2e1fd6e40ad3fd2ac4cb85a64dfdb7384a9e1f8fa"),
    (20_000, 2, {"quant_train_renew_leaf": False, "reg_alpha": 0.2, "min_child_samples": 5},
     "f24bcc552344ab45bd128985bd805ebb54e99013948331a614a44ead8a40380f"),
    (140_000, 3, {"num_grad_quant_bins": 127, "num_leaves": 63},
     "95af6279900babfdcb61e0bbf79899847bf1c24b8df8a386266f6eadbc455f81"),
])
@pytest.mark.parametrize("threads", [1, 2])
def test_split_search_on_packed_words_chooses_the_widened_splits(
        n: int, seed: int, extra: dict, digest: str, threads: int) -> None:
    df, y = _golden_data(n, seed)
    params = {"objective": "regression", "n_estimators": 8, "num_leaves": 31,
              "random_state": seed, "use_quantized_grad": True, "n_jobs": threads, **extra}
    assert _trees_digest(sapwood.train(params, sapwood.Dataset(df, y))) == digest


def test_portable_rounding_loop_gives_the_recorded_trees() -> None:
    """The rounding pass has an AVX-512 loop and a portable one, chosen by the CPU; on an
    AVX-512 machine the portable one runs only when SAPWOOD_NO_AVX512 is set. Both must give
    the same levels: the recorded digests, in a process that takes the portable loop."""
    import os
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import sapwood\n"
        "from test_quantized import _golden_data, _trees_digest\n"
        "for n, seed, extra in ((20_000, 0, {}), (20_000, 2, {'quant_train_renew_leaf': False,"
        " 'reg_alpha': 0.2, 'min_child_samples': 5})):\n"
        "    df, y = _golden_data(n, seed)\n"
        "    p = {'objective': 'regression', 'n_estimators': 8, 'num_leaves': 31,"
        " 'random_state': seed, 'use_quantized_grad': True, 'n_jobs': 2, **extra}\n"
        "    print(_trees_digest(sapwood.train(p, sapwood.Dataset(df, y))))\n")
    out = subprocess.run([sys.executable, "-c", code, here], capture_output=True, text=True,
                         env={**os.environ, "SAPWOOD_NO_AVX512": "1"}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        "af6a9774c1c44d703e3c7d06fe6f8af2ac2c3e93d92da2d7cec3b401d54decf9",
        "f24bcc552344ab45bd128985bd805ebb54e99013948331a614a44ead8a40380f"]


# Digests recorded with the builder that filled every feature's bins: a tree given a column
# subsample now builds only its features' bins, and must grow the same trees.
@pytest.mark.parametrize(("seed", "extra", "digest"), [
    (4, {"colsample_bytree": 0.6},
     "77fc0cbab5649dad4236dad3d1605f40979b7b3a6535c1ac7f65148217f11e6a"),
    (5, {"colsample_bytree": 0.4, "subsample": 0.8, "use_quantized_grad": True},
     "b7cc067e18f54d4e7d218a6e47d7db0c7ef6a4dd2353a7f73ad4bd222c4767e7"),
    (6, {"colsample_bytree": 0.5, "grow_policy": "oblivious", "max_depth": 5},
     "02dbb28cc1fc043625f48839cfcf398049a18f4f536c4e457e6e76eab56dc879"),
    (7, {"colsample_bytree": 0.5, "grow_policy": "oblivious", "max_depth": 4,
         "score_function": "cosine"},
     "1396ec081d383e38aede124196f2cef947498dc3df20f8cf27815ede2fdcb193"),
])
def test_column_subsample_builds_only_its_features_and_grows_the_same_trees(
        seed: int, extra: dict, digest: str) -> None:
    df, y = _golden_data(20_000, seed)
    params = {"objective": "regression", "n_estimators": 8, "random_state": seed, "n_jobs": 2,
              **({"num_leaves": 31} if "grow_policy" not in extra else {}), **extra}
    assert _trees_digest(sapwood.train(params, sapwood.Dataset(df, y))) == digest
