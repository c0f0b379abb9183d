"""The predictor's kernels against a plain Python tree walk, and TreeSHAP against brute force."""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import Booster, ModelFormatError

GRID = np.array([-2.5, -1.0, -1e-36, 0.0, 0.5, 1.0, 3.0, 7.0], dtype=np.float32)


# ----------------------------------------------------------------------------- references
def random_tree(rng: np.random.Generator, n_features: int, max_leaves: int,
                special: bool) -> dict[str, np.ndarray]:
    """A random tree in breadth-first order with consistent covers."""
    feature, threshold, dleft, left, right, value, hess = [], [], [], [], [], [], []
    stype, cbegin, csize = [], [], []
    bits: list[int] = []
    leaves = int(rng.integers(1, max_leaves + 1))
    # grow by splitting random leaves
    nodes = [{"leaf": True, "cover": float(rng.uniform(50, 100))}]
    frontier = [0]
    while len(frontier) < leaves:
        i = frontier.pop(int(rng.integers(len(frontier))))
        c = nodes[i]["cover"]
        share = float(rng.uniform(0.05, 0.95))
        nodes[i]["leaf"] = False
        nodes[i]["kids"] = (len(nodes), len(nodes) + 1)
        nodes.append({"leaf": True, "cover": c * share})
        nodes.append({"leaf": True, "cover": c * (1 - share)})
        frontier += [len(nodes) - 2, len(nodes) - 1]
    # renumber breadth-first (children after parents is already true; keep order)
    for nd in nodes:
        if nd["leaf"]:
            feature.append(-1)
            threshold.append(0.0)
            dleft.append(0)
            left.append(-1)
            right.append(-1)
            value.append(float(rng.normal()))
            stype.append(0)
            cbegin.append(0)
            csize.append(0)
        else:
            feature.append(int(rng.integers(n_features)))
            threshold.append(float(rng.choice(GRID)))
            dleft.append(int(rng.integers(2)))
            left.append(nd["kids"][0])
            right.append(nd["kids"][1])
            value.append(0.0)
            kind = int(rng.integers(3)) if special else 0
            stype.append(kind)
            if kind == 2:
                words = int(rng.integers(1, 3))
                cbegin.append(len(bits))
                csize.append(words)
                bits += [int(v) for v in rng.integers(0, 2**32, size=words, dtype=np.uint64)]
            else:
                cbegin.append(0)
                csize.append(0)
        hess.append(nd["cover"])
    t = {
        "feature": np.array(feature, np.int32),
        "threshold": np.array(threshold, np.float32),
        "default_left": np.array(dleft, np.uint8),
        "left": np.array(left, np.int32),
        "right": np.array(right, np.int32),
        "value": np.array(value, np.float64),
        "hess": np.array(hess, np.float64),
    }
    if special:
        t.update(split_type=np.array(stype, np.uint8), cat_begin=np.array(cbegin, np.int32),
                 cat_size=np.array(csize, np.int32), cat_bits=np.array(bits, np.uint32))
    return t


def go_right(t: dict[str, np.ndarray], i: int, v: float) -> bool:
    v = float(np.float32(v))
    dl = bool(t["default_left"][i])
    kind = int(t["split_type"][i]) if "split_type" in t else 0
    if math.isnan(v):
        return not dl
    z = float(np.float32(1e-35))
    if kind == 1 and -z <= v <= z:
        return not dl
    if kind == 2:
        size = int(t["cat_size"][i])
        if not v > -1 or v >= 32 * size:
            return True
        c = int(v)
        word = int(t["cat_bits"][int(t["cat_begin"][i]) + c // 32])
        return not (word >> (c % 32)) & 1
    return not v <= float(t["threshold"][i])


def walk(t: dict[str, np.ndarray], row: np.ndarray) -> int:
    i = 0
    while t["feature"][i] >= 0:
        i = int(t["right"][i] if go_right(t, i, row[t["feature"][i]]) else t["left"][i])
    return i


def make_booster(trees: list[dict[str, np.ndarray]], n_features: int, k: int = 1,
                 objective: str = "regression") -> Booster:
    b = Booster()
    b.objective = objective
    b.num_class = k if k > 1 else 1
    b.init_score = np.linspace(-0.5, 0.5, k) if k > 1 else np.array([0.25])
    b.feature_names = [f"f{i}" for i in range(n_features)]
    b._trees = trees
    b._tree_output = [i % k for i in range(len(trees))]
    b.params = {"n_jobs": 2}
    return b


def random_rows(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    pool = np.concatenate([GRID, [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-36, -1e-36, 2.0, 33.0,
                                  40.0, 63.0, 64.0, -0.5, 2.9]]).astype(np.float32)
    X = rng.choice(pool, size=(n, m)).astype(np.float32)
    mask = rng.random((n, m)) < 0.3
    X[mask] = rng.normal(0, 3, size=int(mask.sum())).astype(np.float32)
    return X


# ----------------------------------------------------------------------------- kernels
@settings(derandomize=True, deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), n_rows=st.sampled_from([0, 1, 7, 16, 37, 300]),
       special=st.booleans(), k=st.sampled_from([1, 3]))
def test_kernels_match_python_walk(seed: int, n_rows: int, special: bool, k: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 6))
    trees = [random_tree(rng, m, 12, special) for _ in range(3 * k)]
    b = make_booster(trees, m, k, "multiclass" if k > 1 else "regression")
    X = random_rows(rng, n_rows, m)
    expect_leaf = np.array([[walk(t, row) for t in trees] for row in X],
                           dtype=np.int64).reshape(n_rows, len(trees))
    expect = np.tile(b.init_score, (n_rows, 1))
    for j, t in enumerate(trees):
        for r in range(n_rows):
            expect[r, j % k] += t["value"][expect_leaf[r, j]]
    if k == 1:
        expect = expect[:, 0]
    for arr in (X, X.astype(np.float64), np.asfortranarray(X), np.asfortranarray(X, np.float64),
                X[::-1][::-1]):
        np.testing.assert_array_equal(b.predict(arr, output="leaf"), expect_leaf)
        np.testing.assert_allclose(b.predict(arr, output="raw"), expect, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b.predict(arr, output="raw", n_jobs=1), expect, atol=1e-12)
    if n_rows:
        wide = np.zeros((n_rows, 2 * m), np.float32)
        wide[:, ::2] = X  # strided (non-contiguous) view
        np.testing.assert_allclose(b.predict(wide[:, ::2], output="raw"), expect, atol=1e-12)


def test_iteration_range_and_value_transform() -> None:
    rng = np.random.default_rng(3)
    trees = [random_tree(rng, 4, 8, False) for _ in range(6)]
    b = make_booster(trees, 4, 1, "binary")
    X = random_rows(rng, 100, 4)
    raw02 = b.predict(X, output="raw", iteration_range=(0, 2))
    raw26 = b.predict(X, output="raw", iteration_range=(2, 6))
    full = b.predict(X, output="raw")
    np.testing.assert_allclose(raw02 + raw26 - b.init_score[0], full, atol=1e-12)
    np.testing.assert_allclose(b.predict(X), 1 / (1 + np.exp(-full)), atol=1e-12)
    with pytest.raises(sapwood.ParameterError):
        b.predict(X, iteration_range=(3, 9))
    with pytest.raises(sapwood.ParameterError):
        b.predict(X, output="proba")  # type: ignore[arg-type]
    with pytest.raises(sapwood.DataError):
        b.predict(X[:, :3])


# ----------------------------------------------------------------------------- TreeSHAP
def brute_shap(t: dict[str, np.ndarray], row: np.ndarray, m: int) -> np.ndarray:
    def value(S: frozenset[int], i: int = 0) -> float:
        f = int(t["feature"][i])
        if f < 0:
            return float(t["value"][i])
        lch, rch = int(t["left"][i]), int(t["right"][i])
        if f in S:
            return value(S, rch if go_right(t, i, row[f]) else lch)
        c = t["hess"]
        return (c[lch] * value(S, lch) + c[rch] * value(S, rch)) / c[i]

    phi = np.zeros(m + 1)
    for j in range(m):
        others = [f for f in range(m) if f != j]
        for size in range(m):
            w = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for S in itertools.combinations(others, size):
                s = frozenset(S)
                phi[j] += w * (value(s | {j}) - value(s))
    phi[m] = value(frozenset())
    return phi


@settings(derandomize=True, deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), special=st.booleans())
def test_treeshap_matches_brute_force(seed: int, special: bool) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 5))
    trees = [random_tree(rng, m, 10, special) for _ in range(2)]
    b = make_booster(trees, m)
    X = random_rows(rng, 6, m)
    got = b.predict(X, output="contrib")
    assert got.shape == (6, m + 1)
    for r in range(6):
        expect = sum(brute_shap(t, X[r], m) for t in trees)
        expect[m] += b.init_score[0]
        np.testing.assert_allclose(got[r], expect, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.sum(1), b.predict(X, output="raw"), atol=1e-9)


def test_contrib_multiclass_shape_and_sum() -> None:
    rng = np.random.default_rng(5)
    trees = [random_tree(rng, 5, 16, True) for _ in range(9)]
    b = make_booster(trees, 5, 3, "multiclass")
    X = random_rows(rng, 50, 5)
    c = b.predict(X, output="contrib")
    assert c.shape == (50, 3, 6)
    np.testing.assert_allclose(c.sum(-1), b.predict(X, output="raw"), atol=1e-9)


def test_contrib_needs_cover() -> None:
    rng = np.random.default_rng(2)
    t = random_tree(rng, 3, 6, False)
    t["hess"] = np.zeros_like(t["hess"])
    b = make_booster([t], 3)
    b.predict(np.zeros((2, 3), np.float32))  # scoring does not need cover
    if t["feature"][0] >= 0:
        with pytest.raises(ModelFormatError, match="cover"):
            b.predict(np.zeros((2, 3), np.float32), output="contrib")


# ----------------------------------------------------------------------------- safety
def test_threads_share_one_booster() -> None:
    rng = np.random.default_rng(11)
    trees = [random_tree(rng, 6, 31, True) for _ in range(40)]
    b = make_booster(trees, 6, 1, "binary")
    batches = [random_rows(rng, int(n), 6) for n in rng.integers(1, 600, size=24)]
    expect = [b.predict(x, n_jobs=1) for x in batches]
    expect_c = [b.predict(x[:5], output="contrib", n_jobs=1) for x in batches]
    errors: list[str] = []

    def hammer(seed: int) -> None:
        order = np.random.default_rng(seed).permutation(len(batches))
        for _ in range(3):
            for i in order:
                got = b.predict(batches[i], n_jobs=2 if i % 2 else 1)
                if not np.array_equal(got, expect[i]):
                    errors.append(f"batch {i} differs")
                if i % 5 == 0 and not np.array_equal(
                        b.predict(batches[i][:5], output="contrib"), expect_c[i]):
                    errors.append(f"contrib {i} differs")
                if i % 3 == 0 and not np.array_equal(b.predict(batches[i][:1]), expect[i][:1]):
                    errors.append(f"single row {i} differs")

    threads = [threading.Thread(target=hammer, args=(s,)) for s in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:5]


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda t: t.update(left=np.where(t["left"] > 0, 0, t["left"]).astype(np.int32)), "child"),
        (lambda t: t.update(feature=np.where(t["feature"] >= 0, 99, -1).astype(np.int32)),
         "feature 99"),
        (lambda t: t.update(threshold=np.full_like(t["threshold"], np.nan)), "NaN"),
        (lambda t: t.update(value=t["value"][:-1]), "value"),
        (lambda t: t.update(split_type=np.full(t["feature"].size, 2, np.uint8),
                            cat_begin=np.zeros(t["feature"].size, np.int32),
                            cat_size=np.full(t["feature"].size, 5, np.int32),
                            cat_bits=np.zeros(1, np.uint32)), "cat"),
        (lambda t: t.update(split_type=np.full(t["feature"].size, 7, np.uint8),
                            cat_begin=np.zeros(t["feature"].size, np.int32),
                            cat_size=np.zeros(t["feature"].size, np.int32)), "split_type"),
    ],
)
def test_malformed_trees_raise(mutate, match) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    t = random_tree(rng, 3, 6, False)
    while t["feature"][0] < 0:
        t = random_tree(rng, 3, 6, False)
    mutate(t)
    b = make_booster([t], 3)
    with pytest.raises(ModelFormatError, match=match):
        b.predict(np.zeros((2, 3), np.float32))


def test_trained_booster_contrib_sums_to_margin() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((800, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(float)
    b = sapwood.train({"objective": "binary", "n_estimators": 15, "random_state": 0},
                      sapwood.Dataset(X, y))
    c = b.predict(X[:100], output="contrib")
    np.testing.assert_allclose(c.sum(1), b.predict(X[:100], output="raw"), atol=1e-9)
    # single rows agree with batches
    one = np.array([b.predict(X[i:i + 1])[0] for i in range(50)])
    np.testing.assert_array_equal(one, b.predict(X[:50]))


def chain_tree(rng: np.random.Generator, depth: int, m: int,
               distinct: bool = False) -> dict[str, np.ndarray]:
    """A chain: node 2d splits (on feature d % m, or d when distinct), 2d + 1 is a leaf and
    2d + 2 goes on; covers consistent."""
    n = 2 * depth + 1
    t = {"feature": np.full(n, -1, np.int32), "threshold": np.zeros(n, np.float32),
         "threshold_bin": np.zeros(n, np.int32), "default_left": np.zeros(n, np.uint8),
         "left": np.full(n, -1, np.int32), "right": np.full(n, -1, np.int32),
         "value": np.zeros(n), "gain": np.zeros(n), "hess": np.zeros(n),
         "count": np.zeros(n, np.int64)}
    d = np.arange(depth)
    i = 2 * d
    t["feature"][i] = d if distinct else d % m
    t["threshold"][i] = rng.normal(size=depth).astype(np.float32)
    t["default_left"][i] = d % 2
    t["left"][i], t["right"][i] = i + 1, i + 2
    t["value"][i + 1] = rng.normal(size=depth)
    t["value"][n - 1] = rng.normal()
    leaf_cover = rng.uniform(0.5, 2.0, size=depth)
    # cover[2d] = 1 + sum of the leaf covers at and below level d
    cover = np.zeros(n)
    cover[n - 1] = 1.0
    cover[i + 1] = leaf_cover
    cover[i] = 1.0 + np.cumsum(leaf_cover[::-1])[::-1]
    t["hess"] = cover
    return t


def test_treeshap_long_paths_use_the_recursion() -> None:
    # A 300-deep chain stores more path splits than the leaf-path kernel allows, so contrib
    # falls back to the recursive algorithm; both must give the exact Shapley values.
    rng = np.random.default_rng(8)
    depth, m = 300, 3
    t = chain_tree(rng, depth, m)
    b = make_booster([t], m)
    X = random_rows(rng, 4, m)
    got = b.predict(X, output="contrib")
    for r in range(4):
        expect = brute_shap(t, X[r], m)
        expect[m] += b.init_score[0]
        np.testing.assert_allclose(got[r], expect, rtol=1e-9, atol=1e-9)


_CHAIN_CONTRIB = """
import resource, sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_predict import chain_tree, make_booster, random_rows
rng = np.random.default_rng(4)
b = make_booster([chain_tree(rng, {depth}, 3)], 3)
X = random_rows(rng, 300, 3)
raw = b.predict(X, output="raw", n_jobs=2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = b.predict(X, output="contrib", n_jobs=2)
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
assert np.allclose(c.sum(1), raw, rtol=0, atol=1e-9), abs(c.sum(1) - raw).max()
print(grew)
"""


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_contrib_memory_is_linear_in_depth(depth: int) -> None:
    # Issue 14 item 12: the recursion's path scratch was (D+2)(D+3)/2 elements per thread
    # (812 MB for 300 rows of one 5,000-deep chain; 160 GB at 100,000 deep), and the recursion
    # itself used the thread's stack per level. Now the scratch is per level of distinct
    # features (a few elements here) and the recursion runs on an explicit stack.
    import os
    import subprocess
    import sys

    code = _CHAIN_CONTRIB.format(tests=os.path.dirname(__file__), depth=depth)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*sys.path])
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    grew_kib = int(res.stdout.split()[-1])
    assert grew_kib < 64 * 1024, f"contrib grew the peak RSS by {grew_kib} KiB"


def test_contrib_refuses_trees_past_the_path_bound() -> None:
    # A chain of 2,100 distinct features on one path would need ~2.2M path elements (70 MB)
    # per thread: refused with a ModelFormatError naming the tree, while scoring still works.
    rng = np.random.default_rng(6)
    depth = 2_100
    t = chain_tree(rng, depth, depth, distinct=True)
    b = make_booster([chain_tree(rng, 50, 3), t], depth)
    X = rng.standard_normal((3, depth)).astype(np.float32)
    assert b.predict(X, output="raw").shape == (3,)
    with pytest.raises(ModelFormatError, match=r"tree 1: contributions would need \d+ TreeSHAP"):
        b.predict(X, output="contrib")
    # the first tree alone is fine
    c = b.predict(X, output="contrib", iteration_range=(0, 1))
    assert c.shape == (3, depth + 1)


# ----------------------------------------------------------------------------- n_jobs
def test_n_jobs_is_clamped_to_the_machine() -> None:
    # Issue 14 item 8: n_jobs had no upper bound (500 threads under a memory limit ended the
    # process; 2**31 from a model file gave a TypeError on every predict).
    import os

    from sapwood._params import resolve_n_jobs

    cores = len(os.sched_getaffinity(0))
    assert resolve_n_jobs(500) == resolve_n_jobs(2**40) == resolve_n_jobs(None) == cores
    assert resolve_n_jobs(1) == 1
    assert resolve_n_jobs(-(2**40)) == 1
    rng = np.random.default_rng(9)
    trees = [random_tree(rng, 4, 20, False) for _ in range(6)]
    b = make_booster(trees, 4)
    X = random_rows(rng, 300, 4)
    ref = b.predict(X, n_jobs=1)
    for n in (500, 2**31 - 1, 2**31, 2**40):
        np.testing.assert_array_equal(b.predict(X, n_jobs=n), ref)
        np.testing.assert_array_equal(b.predict(X[:1], n_jobs=n), ref[:1])
        assert b.predict(X, output="contrib", n_jobs=n).shape == (300, 5)
        assert b.predict(X, output="leaf", n_jobs=n).shape == (300, 6)


def test_n_jobs_from_a_model_file_is_clamped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A model file whose params say n_jobs = 2**40 (save drops n_jobs, so the file is edited
    # and re-signed as a hostile one would be) loads and predicts on the machine's cores.
    import hashlib
    import json
    import struct

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4)).astype(np.float32)
    y = X[:, 0] + 0.1 * rng.standard_normal(300)
    b = sapwood.train({"n_estimators": 5, "random_state": 0}, sapwood.Dataset(X, y))
    path = tmp_path / "m.sapwood"
    b.save(path)
    data = path.read_bytes()
    hdr = struct.Struct("<8sIIQQ")
    magic, ver, flags, ml, dl = hdr.unpack_from(data, 0)
    pad = (-(32 + ml)) % 8
    meta = json.loads(data[32:32 + ml])
    section = data[32 + ml + pad:32 + ml + pad + dl]
    expect = b.predict(X)
    for nj in (500, 2**31, 2**40):
        meta["model"]["params"]["n_jobs"] = nj
        mb = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
        body = hdr.pack(magic, ver, flags, len(mb), len(section)) + mb + b"\0" * (
            (-(32 + len(mb))) % 8) + section
        path.write_bytes(body + hashlib.sha256(body).digest())
        loaded = sapwood.load(path)
        np.testing.assert_array_equal(loaded.predict(X), expect)
        np.testing.assert_array_equal(loaded.predict(X[:1]), expect[:1])


_HUGE_THREADS = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_predict import make_booster, random_rows, random_tree
from sapwood import _core
rng = np.random.default_rng(1)
b = make_booster([random_tree(rng, 4, 30, False) for _ in range(5)], 4)
f = b._get_forest()
X = random_rows(rng, 5000, 4)
out = np.zeros((5000, 1))
f.predict_raw(X, 0, 5, out, 2**31 - 1)
ref = np.zeros((5000, 1))
f.predict_raw(X, 0, 5, ref, 1)
assert np.array_equal(out, ref)
f.predict_contrib(X[:100], 0, 5, np.zeros(1), 2**31 - 1)
f.predict_leaf(X, 0, 5, 2**31 - 1)
print("ok")
"""


def test_core_never_starts_more_threads_than_cores() -> None:
    # The C++ threading wrapper clamps what it is given: 2**31 - 1 threads asked of the core
    # directly (in a child process: libgomp aborts the process when thread creation fails).
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    res = subprocess.run([sys.executable, "-c",
                          _HUGE_THREADS.format(tests=os.path.dirname(__file__))],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
