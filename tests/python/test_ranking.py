"""Ranking: query groups, lambdarank / rank_xendcg gradients, ndcg@k / map@k, GBMRanker.

Each kernel is checked against a plain numpy/Python reference written from the papers'
definitions (and scikit-learn's ndcg_score where the definitions meet); the trained models
against LightGBM on the same data.
"""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import _core, metrics
from sapwood._groups import bounds_from_qid, bounds_from_sizes

GAIN = 2.0 ** np.arange(32) - 1.0
M64 = (1 << 64) - 1


def make_queries(n_queries: int, seed: int, n_features: int = 8) -> tuple[np.ndarray, np.ndarray,
                                                                          np.ndarray]:
    """Synthetic graded relevance: a nonlinear score plus a per-query shift, cut into 0..4."""
    r = np.random.default_rng(seed)
    sizes = r.integers(5, 40, n_queries)
    n = int(sizes.sum())
    X = r.normal(size=(n, n_features))
    shift = np.repeat(r.normal(size=n_queries), sizes)
    s = X[:, 0] + 0.5 * X[:, 1] ** 2 - 0.4 * X[:, 2] * X[:, 3] + 0.5 * shift \
        + r.normal(scale=0.6, size=n)
    y = np.clip(np.floor(s + 1.0), 0, 4)
    return X, y, sizes


# ----------------------------------------------------------------------------- references
def ref_lambdarank(s: np.ndarray, y: np.ndarray, bounds: np.ndarray, trunc: int = 30,
                   norm: bool = True, gain: np.ndarray = GAIN,
                   w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """LambdaMART gradients (Burges 2010, with LightGBM's truncation and normalisation), one
    pair at a time."""
    g, h = np.zeros_like(s), np.zeros_like(s)
    for b, e in zip(bounds[:-1], bounds[1:], strict=True):
        ss, yy = s[b:e], y[b:e].astype(int)
        m = e - b
        if m <= 1:
            continue
        order = sorted(range(m), key=lambda i: (-ss[i], i))
        disc = 1.0 / np.log2(np.arange(m) + 2.0)
        k = min(trunc, m)
        ideal = np.sort(gain[yy])[::-1][:k]
        max_dcg = float((ideal * disc[:k]).sum())
        if max_dcg <= 0:
            continue
        spread = ss.max() != ss.min()
        gq, hq, total = np.zeros(m), np.zeros(m), 0.0
        for i in range(min(m - 1, trunc)):
            for j in range(i + 1, m):
                a, c = order[i], order[j]
                if yy[a] == yy[c]:
                    continue
                hi, lo, rh, rl = (a, c, i, j) if yy[a] > yy[c] else (c, a, j, i)
                ds = ss[hi] - ss[lo]
                dn = (gain[yy[hi]] - gain[yy[lo]]) * abs(disc[rh] - disc[rl]) / max_dcg
                if norm and spread:
                    dn /= 0.01 + abs(ds)
                rho = 1.0 / (1.0 + np.exp(ds))
                gq[hi] -= rho * dn
                gq[lo] += rho * dn
                hq[hi] += rho * (1 - rho) * dn
                hq[lo] += rho * (1 - rho) * dn
                total += 2 * rho * dn
        if norm and total > 0:
            f = np.log2(1 + total) / total
            gq, hq = gq * f, hq * f
        qw = 1.0 if w is None else float(w[b:e].mean())
        g[b:e], h[b:e] = gq * qw, hq * qw
    return g, h


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def _uniform(seed: int, stream: int, index: int) -> float:
    h = _splitmix(_splitmix(_splitmix(seed) ^ stream) ^ index)
    return (h >> 11) * (1.0 / 9007199254740992.0)


def ref_xendcg(s: np.ndarray, y: np.ndarray, bounds: np.ndarray, seed: int,
               rnd: int) -> tuple[np.ndarray, np.ndarray]:
    """XE-NDCG (Bruch 2021, Algorithm 1 with the second-order gradient approximation), with
    the uniform draws of sapwood's counter-based generator (seed, round, row)."""
    g, h = np.zeros_like(s), np.zeros_like(s)
    for b, e in zip(bounds[:-1], bounds[1:], strict=True):
        if e - b <= 1:
            continue
        ss = s[b:e]
        rho = np.exp(ss - ss.max())
        rho /= rho.sum()
        u = np.array([_uniform(seed, 0x3000 + rnd, i) for i in range(b, e)])
        phi = GAIN[y[b:e].astype(int)] + 1.0 - u
        t = rho - phi / phi.sum()
        gq = t.copy()
        p1 = t / (1 - rho)
        t2 = rho * (p1.sum() - p1)
        gq += t2
        p2 = t2 / (1 - rho)
        gq += rho * (p2.sum() - p2)
        g[b:e], h[b:e] = gq, rho * (1 - rho)
    return g, h


def ref_ndcg(s: np.ndarray, y: np.ndarray, k: int | None, gain: np.ndarray = GAIN) -> float:
    """NDCG@k of one query, ties in score averaged over every order of the tied documents."""
    m = s.size
    kk = m if k is None else min(k, m)
    disc = np.where(np.arange(m) < kk, 1.0 / np.log2(np.arange(m) + 2.0), 0.0)
    gs = gain[y.astype(int)]
    dcg, pos = 0.0, 0
    for v in np.unique(s)[::-1]:
        tied = s == v
        c = int(tied.sum())
        dcg += gs[tied].mean() * disc[pos:pos + c].sum()
        pos += c
    ideal = float((np.sort(gs)[::-1] * disc).sum())
    return dcg / ideal if ideal > 0 else 1.0


def ref_map(s: np.ndarray, y: np.ndarray, k: int | None) -> float:
    """Average precision at k of one query, tied scores ranking relevant documents last."""
    m = s.size
    kk = m if k is None else min(k, m)
    rel = y > 0
    if not rel.any():
        return 1.0
    order = sorted(range(m), key=lambda i: (-s[i], rel[i], i))
    hits, total = 0, 0.0
    for r, i in enumerate(order[:kk]):
        if rel[i]:
            hits += 1
            total += hits / (r + 1)
    return total / min(kk, int(rel.sum()))


def random_queries(r: np.random.Generator, n_queries: int,
                   ties: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = r.integers(1, 25, n_queries)
    n = int(sizes.sum())
    s = np.round(r.normal(size=n), 1) if ties else r.normal(size=n)
    y = r.integers(0, 5, n).astype(np.float64)
    y[: sizes[0]] = 0  # a query without relevant documents
    return s, y, bounds_from_sizes(sizes, n)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("trunc, norm, weighted", [(30, True, False), (3, True, False),
                                                   (30, False, False), (5, True, True)])
def test_lambdarank_gradients_equal_reference(trunc: int, norm: bool, weighted: bool) -> None:
    r = np.random.default_rng(trunc + 10 * norm + 100 * weighted)
    s, y, bounds = random_queries(r, 40)
    w = r.uniform(0.5, 2.0, s.size) if weighted else None
    _, g, h = _core.objective_gradients(
        "lambdarank", s, y, w, {"group_bounds": bounds.tolist(),
                                "lambdarank_truncation_level": trunc, "lambdarank_norm": norm})
    rg, rh = ref_lambdarank(s, y, bounds, trunc, norm, w=w)
    np.testing.assert_allclose(g, rg, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h, rh, rtol=1e-9, atol=1e-12)
    # pairwise: each query's gradients cancel; the all-zero-label query gets none
    np.testing.assert_allclose(np.add.reduceat(g, bounds[:-1]), 0, atol=1e-12)
    assert not g[: bounds[1]].any()


def test_lambdarank_custom_label_gain() -> None:
    r = np.random.default_rng(3)
    s, y, bounds = random_queries(r, 20, ties=False)
    gain = np.array([0.0, 1.0, 3.0, 4.0, 10.0])
    _, g, _ = _core.objective_gradients("lambdarank", s, y, None,
                                        {"group_bounds": bounds.tolist(),
                                         "label_gain": gain.tolist()})
    np.testing.assert_allclose(g, ref_lambdarank(s, y, bounds, gain=gain)[0], rtol=1e-9,
                               atol=1e-12)


def test_xendcg_gradients_equal_reference() -> None:
    r = np.random.default_rng(4)
    s, y, bounds = random_queries(r, 30, ties=False)
    for rnd in (0, 7):
        _, g, h = _core.objective_gradients("rank_xendcg", s, y, None,
                                            {"group_bounds": bounds.tolist(), "round": rnd,
                                             "random_state": 11})
        rg, rh = ref_xendcg(s, y, bounds, 11, rnd)
        np.testing.assert_allclose(g, rg, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(h, rh, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_ranking_gradients_same_on_any_thread_count(objective: str) -> None:
    r = np.random.default_rng(5)
    s, y, bounds = random_queries(r, 300)
    out = [_core.objective_gradients(objective, s, y, None,
                                     {"group_bounds": bounds.tolist(), "n_jobs": nj})
           for nj in (1, 2, 4)]
    for o in out[1:]:
        assert np.array_equal(o[1], out[0][1]) and np.array_equal(o[2], out[0][2])


def test_ranking_labels_and_groups_checked() -> None:
    s = np.zeros(4)
    b = [0, 2, 4]
    with pytest.raises(sapwood.DataError, match="row 1"):
        _core.objective_gradients("lambdarank", s, np.array([0, 1.5, 0, 1]), None,
                                  {"group_bounds": b})
    with pytest.raises(sapwood.DataError, match="row 2"):
        _core.objective_gradients("lambdarank", s, np.array([0, 1, 32, 1]), None,
                                  {"group_bounds": b})
    with pytest.raises(sapwood.DataError, match="query groups"):
        _core.objective_gradients("lambdarank", s, np.array([0, 1, 0, 1]), None, {})
    with pytest.raises(sapwood.DataError, match="rows"):
        _core.objective_gradients("rank_xendcg", s, np.array([0, 1, 0, 1]), None,
                                  {"group_bounds": [0, 2, 3]})


# ----------------------------------------------------------------------------- metrics
def test_ndcg_and_map_equal_reference() -> None:
    r = np.random.default_rng(6)
    s, y, bounds = random_queries(r, 60)
    sizes = np.diff(bounds)
    for k in (None, 1, 3, 10):
        per = metrics.query_ndcg(y, s, group=sizes, k=k)
        want = [ref_ndcg(s[b:e], y[b:e], k) for b, e in zip(bounds[:-1], bounds[1:],
                                                           strict=True)]
        np.testing.assert_allclose(per, want, rtol=1e-12)
        per_map = metrics.query_map_at_k(y, s, group=sizes, k=k)
        want_map = [ref_map(s[b:e], y[b:e], k) for b, e in zip(bounds[:-1], bounds[1:],
                                                               strict=True)]
        np.testing.assert_allclose(per_map, want_map, rtol=1e-12)
        assert metrics.ndcg(y, s, group=sizes, k=k) == pytest.approx(np.mean(want), rel=1e-12)
        assert metrics.map_at_k(y, s, group=sizes, k=k) == pytest.approx(np.mean(want_map),
                                                                          rel=1e-12)


def test_ndcg_equals_scikit_learn() -> None:
    """scikit-learn's ndcg_score (linear gains, tie-averaged) on gains 2^label - 1."""
    from sklearn.metrics import ndcg_score

    r = np.random.default_rng(7)
    for ties in (False, True):
        s, y, bounds = random_queries(r, 40, ties=ties)
        per = metrics.query_ndcg(y, s, group=np.diff(bounds), k=5)
        for q, (b, e) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if e - b < 2 or not y[b:e].any():  # sklearn: one document, or 0 for all-zero
                continue
            want = ndcg_score([GAIN[y[b:e].astype(int)]], [s[b:e]], k=5)
            assert per[q] == pytest.approx(want, rel=1e-12)


def test_ndcg_weighted_by_query() -> None:
    r = np.random.default_rng(8)
    s, y, bounds = random_queries(r, 10, ties=False)
    sizes = np.diff(bounds)
    qw = r.uniform(0.1, 3, sizes.size)
    per = metrics.query_ndcg(y, s, group=sizes, k=3)
    got = metrics.ndcg(y, s, np.repeat(qw, sizes), group=sizes, k=3)
    assert got == pytest.approx(np.average(per, weights=qw), rel=1e-12)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.5])),
                min_size=1, max_size=30),
       st.integers(1, 4), st.sampled_from([None, 1, 2, 5]))
def test_query_metrics_hypothesis(docs: list[tuple[int, float]], n_groups: int,
                                  k: int | None) -> None:
    y = np.array([d[0] for d in docs], dtype=np.float64)
    s = np.array([d[1] for d in docs])
    n = y.size
    cuts = sorted(set(np.linspace(0, n, n_groups + 1).astype(int)))
    bounds = np.array(cuts, dtype=np.int64)
    sizes = np.diff(bounds)
    per = metrics.query_ndcg(y, s, group=sizes, k=k)
    per_map = metrics.query_map_at_k(y, s, group=sizes, k=k)
    for q, (b, e) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        assert per[q] == pytest.approx(ref_ndcg(s[b:e], y[b:e], k), rel=1e-12)
        assert per_map[q] == pytest.approx(ref_map(s[b:e], y[b:e], k), rel=1e-12)
        # reordering a query's rows changes nothing
        p = np.arange(b, e)[::-1]
        ss, yy = s.copy(), y.copy()
        ss[b:e], yy[b:e] = s[p], y[p]
        assert metrics.query_ndcg(yy, ss, group=sizes, k=k)[q] == pytest.approx(per[q],
                                                                                rel=1e-12)


def test_query_metric_errors() -> None:
    y, s = np.array([0.0, 1, 2]), np.array([0.1, 0.2, np.nan])
    with pytest.raises(sapwood.DataError, match="row 2"):
        metrics.ndcg(y, s, group=[3])
    with pytest.raises(sapwood.DataError, match="query groups"):
        metrics.ndcg(y, np.zeros(3))
    with pytest.raises(sapwood.DataError, match="sum to 2"):
        metrics.ndcg(y, np.zeros(3), group=[1, 1])
    with pytest.raises(sapwood.DataError, match="row 1"):
        metrics.ndcg(np.array([0.0, 0.5, 1]), np.zeros(3), group=[3])
    with pytest.raises(sapwood.ParameterError, match="k must"):
        metrics.ndcg(y, np.zeros(3), group=[3], k=0)


# ----------------------------------------------------------------------------- groups
def test_qid_bounds_and_contiguity() -> None:
    assert bounds_from_qid(np.array([5, 5, 2, 2, 2, 9]), 6).tolist() == [0, 2, 5, 6]
    assert bounds_from_qid(np.array(["a", "b", "b"]), 3).tolist() == [0, 1, 3]
    with pytest.raises(sapwood.DataError, match="row 4.*contiguous"):
        bounds_from_qid(np.array([1, 1, 2, 2, 1]), 5)
    with pytest.raises(sapwood.DataError, match="row 1"):
        bounds_from_qid(np.array([1.0, np.nan]), 2)
    with pytest.raises(sapwood.DataError, match="query 1 has size 0"):
        bounds_from_sizes([2, 0, 1], 3)
    with pytest.raises(sapwood.DataError, match="qid="):
        bounds_from_sizes(np.array([1, 1, 2, 2]), 4)


def test_dataset_group_forms_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    X, y, sizes = make_queries(30, 1)
    qid = np.repeat(np.arange(sizes.size) * 7 + 3, sizes)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(y=y, q=qid)
    path = tmp_path / "rank.parquet"
    df.to_parquet(path, row_group_size=100)
    params = {"objective": "lambdarank", "n_estimators": 5, "n_jobs": 1}
    sets = [sapwood.Dataset(X, y, group=sizes), sapwood.Dataset(X, y, qid=qid),
            sapwood.Dataset(df, "y", group="q"), sapwood.Dataset(df, "y", qid="q"),
            sapwood.Dataset(str(path), "y", qid="q")]
    for ds in sets:
        assert ds.group is not None and ds.group.tolist() == sizes.tolist()
        assert "q" not in ds.feature_names
    preds = [sapwood.train(params, ds, reference_profile=False).predict(X) for ds in sets]
    for p in preds[1:]:
        np.testing.assert_array_equal(p, preds[0])
    with pytest.raises(sapwood.DataError, match="row"):
        sapwood.Dataset(df.iloc[::-1].sort_values("f0"), "y", qid="q")


def test_training_needs_groups() -> None:
    X, y, sizes = make_queries(20, 2)
    with pytest.raises(sapwood.DataError, match="query groups"):
        sapwood.train({"objective": "lambdarank"}, sapwood.Dataset(X, y))
    with pytest.raises(sapwood.DataError, match="valid set 'v'.*query groups"):
        sapwood.train({"objective": "lambdarank", "n_estimators": 2},
                      sapwood.Dataset(X, y, group=sizes), valid_sets=[sapwood.Dataset(X, y)],
                      valid_names=["v"])
    with pytest.raises(sapwood.DataError, match="row"):
        sapwood.train({"objective": "lambdarank"}, sapwood.Dataset(X, y + 0.5, group=sizes))
    with pytest.raises(sapwood.ParameterError, match="lambdarank_truncation_level"):
        sapwood.train({"objective": "lambdarank", "lambdarank_truncation_level": 0},
                      sapwood.Dataset(X, y, group=sizes))
    with pytest.raises(sapwood.ParameterError, match="ndcg@x"):
        sapwood.train({"objective": "lambdarank", "metric": "ndcg@x"},
                      sapwood.Dataset(X, y, group=sizes))


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_model_bit_identical_on_any_thread_count(objective: str) -> None:
    X, y, sizes = make_queries(60, 3)
    models = [sapwood.train({"objective": objective, "n_estimators": 10, "n_jobs": nj,
                             "subsample": 0.8, "random_state": 4},
                            sapwood.Dataset(X, y, group=sizes), reference_profile=False)
              for nj in (1, 2)]
    models[1].provenance = dict(models[0].provenance)  # the creation time
    assert models[0].to_bytes() == models[1].to_bytes()


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_heldout_ndcg_close_to_lightgbm(objective: str) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y, sizes = make_queries(400, 10)
    Xt, yt, st_ = make_queries(300, 11)
    params = {"objective": objective, "n_estimators": 60, "num_leaves": 15,
              "learning_rate": 0.1, "n_jobs": 2}
    b = sapwood.train(params, sapwood.Dataset(X, y, group=sizes),
                      valid_sets=[sapwood.Dataset(Xt, yt, group=st_)], valid_names=["test"],
                      reference_profile=False)
    lb = lgb.train({"objective": objective, "num_leaves": 15, "learning_rate": 0.1,
                    "verbose": -1, "num_threads": 2, "seed": 0},
                   lgb.Dataset(X, y, group=sizes), 60)
    ours = metrics.ndcg(yt, b.predict(Xt), group=st_, k=10)
    theirs = metrics.ndcg(yt, lb.predict(Xt), group=st_, k=10)
    assert ours > theirs - 0.01, (ours, theirs)
    assert b.evals_result["test"]["ndcg@10"][-1] == pytest.approx(ours)
    # training improves on the raw features' order
    assert ours > metrics.ndcg(yt, Xt[:, 0], group=st_, k=10) + 0.02


def test_early_stopping_maximises_ndcg() -> None:
    X, y, sizes = make_queries(80, 12)
    Xt, yt, st_ = make_queries(40, 13)
    b = sapwood.train({"objective": "lambdarank", "n_estimators": 200, "learning_rate": 0.3,
                       "metric": ["ndcg@5", "map@3"]},
                      sapwood.Dataset(X, y, group=sizes),
                      valid_sets=[sapwood.Dataset(Xt, yt, group=st_)],
                      callbacks=[sapwood.EarlyStopping(5)], reference_profile=False)
    hist = b.evals_result["valid_0"]["ndcg@5"]
    assert b.best_iteration == int(np.argmax(hist)) + 1
    assert "map@3" in b.evals_result["valid_0"]


def test_model_file_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y, sizes = make_queries(40, 14)
    b = sapwood.train({"objective": "lambdarank", "n_estimators": 8, "label_gain":
                       [0, 1, 3, 7, 15]}, sapwood.Dataset(X, y, group=sizes))
    path = tmp_path / "m.sapwood"
    b.save(path)
    back = sapwood.load(path)
    assert back.objective == "lambdarank" and back.params["label_gain"] == [0, 1, 3, 7, 15]
    np.testing.assert_array_equal(back.predict(X), b.predict(X))
    np.testing.assert_array_equal(b.predict(X), b.predict(X, output="raw"))


def test_cv_keeps_queries_whole() -> None:
    X, y, sizes = make_queries(40, 15)
    res = sapwood.cv({"objective": "lambdarank", "n_estimators": 5, "metric": "ndcg@5"},
                     sapwood.Dataset(X, y, group=sizes), folds=3)
    q = np.repeat(np.arange(sizes.size), sizes)
    for _, va in res.folds:
        inside = np.isin(q, q[va])
        assert np.array_equal(np.flatnonzero(inside), np.sort(va))
    assert len(res.history["ndcg@5"]["mean"]) == 5
    n = int(sizes.sum())
    with pytest.raises(sapwood.DataError, match="splits query"):
        sapwood.cv({"objective": "lambdarank", "n_estimators": 2},
                   sapwood.Dataset(X, y, group=sizes),
                   folds=[(np.arange(1, n), np.array([0]))])


def test_gbm_ranker_equals_train() -> None:
    X, y, sizes = make_queries(50, 16)
    Xt, yt, st_ = make_queries(20, 17)
    r = sapwood.GBMRanker(n_estimators=15, n_jobs=1).fit(
        X, y, group=sizes, eval_set=[(Xt, yt)], eval_group=[st_])
    b = sapwood.train({"objective": "lambdarank", "n_estimators": 15, "n_jobs": 1},
                      sapwood.Dataset(X, y, group=sizes))
    np.testing.assert_array_equal(r.predict(Xt), b.predict(Xt))
    assert "ndcg@10" in r.evals_result_["valid_0"]
    qid = np.repeat(np.arange(sizes.size), sizes)
    r2 = sapwood.GBMRanker(n_estimators=15, n_jobs=1, objective="rank_xendcg").fit(X, y, qid=qid)
    assert r2.booster_.objective == "rank_xendcg"
    with pytest.raises(sapwood.DataError, match="group"):
        sapwood.GBMRanker().fit(X, y)
    with pytest.raises(sapwood.DataError, match="eval_set\\[0\\]"):
        sapwood.GBMRanker(n_estimators=2).fit(X, y, group=sizes, eval_set=[(Xt, yt)])
    with pytest.raises(sapwood.ParameterError, match="objective"):
        sapwood.GBMRanker(objective="regression").fit(X, y, group=sizes)


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_lightgbm_ranking_models_import(objective: str) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y, sizes = make_queries(40, 18)
    bst = lgb.train({"objective": objective, "verbose": -1, "num_leaves": 7, "num_threads": 1},
                    lgb.Dataset(X, y, group=sizes), 10)
    sb = sapwood.import_model(bst.model_to_string().encode())
    assert sb.objective == objective
    np.testing.assert_allclose(sb.predict(X), bst.predict(X), atol=1e-6, rtol=0)


def test_xgboost_rank_ndcg_imports_as_lambdarank() -> None:
    xgb = pytest.importorskip("xgboost")
    X, y, sizes = make_queries(40, 19)
    d = xgb.DMatrix(X, y)
    d.set_group(sizes)
    bst = xgb.train({"objective": "rank:ndcg", "max_depth": 3, "nthread": 1}, d, 10)
    sb = sapwood.import_model(bst.save_raw("json"))
    assert sb.objective == "lambdarank"
    np.testing.assert_allclose(sb.predict(X), bst.inplace_predict(X), atol=1e-5, rtol=0)


def test_train_config_with_query_ids(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd
    from sapwood.train.config import train_from_config

    X, y, sizes = make_queries(60, 20)
    qid = np.repeat(np.arange(sizes.size) + 100, sizes)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(rel=y, query=qid)
    df.to_parquet(tmp_path / "rank.parquet")
    (tmp_path / "train.toml").write_text(
        '[data]\npath = "rank.parquet"\nlabel = "rel"\nqid = "query"\n'
        '[params]\nobjective = "lambdarank"\nn_estimators = 10\nmetric = ["ndcg@5", "map@5"]\n'
        '[validation]\nfraction = 0.25\n'
        '[cv]\nfolds = 3\n'
        '[output]\npath = "m.sapwood"\n')
    res = train_from_config(str(tmp_path / "train.toml"))
    b = sapwood.load(tmp_path / "m.sapwood")
    assert b.objective == "lambdarank" and "query" not in b.feature_names
    assert set(res["final"]["valid"]) == {"ndcg@5", "map@5"}
    assert set(res["cv"]["best_score"]) == {"ndcg@5", "map@5"}
    df.iloc[::-1].to_parquet(tmp_path / "rank.parquet")  # still contiguous
    train_from_config(str(tmp_path / "train.toml"))
    df.sample(frac=1.0, random_state=0).to_parquet(tmp_path / "rank.parquet")
    with pytest.raises(sapwood.DataError, match="contiguous"):
        train_from_config(str(tmp_path / "train.toml"))


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_continued_training_equals_training_at_once(objective: str) -> None:
    """rank_xendcg draws its targets per round: continuing must resume the round count."""
    X, y, sizes = make_queries(50, 21)
    p = {"objective": objective, "n_jobs": 1, "random_state": 3}
    full = sapwood.train({**p, "n_estimators": 12}, sapwood.Dataset(X, y, group=sizes))
    first = sapwood.train({**p, "n_estimators": 5}, sapwood.Dataset(X, y, group=sizes))
    cont = sapwood.train({**p, "n_estimators": 7}, sapwood.Dataset(X, y, group=sizes),
                         init_model=first)
    assert cont.num_trees == full.num_trees
    for ta, tb in zip(full.trees(), cont.trees(), strict=True):
        np.testing.assert_array_equal(ta.value, tb.value)
        np.testing.assert_array_equal(ta.feature, tb.feature)


def test_lambdarank_exports_to_xgboost() -> None:
    xgb = pytest.importorskip("xgboost")
    X, y, sizes = make_queries(30, 22)
    b = sapwood.train({"objective": "lambdarank", "n_estimators": 10},
                      sapwood.Dataset(X, y, group=sizes))
    xb = xgb.Booster(model_file=bytearray(b.to_xgboost_json().encode()))
    assert "rank:ndcg" in xb.save_config()
    Xf = X.astype(np.float32)
    np.testing.assert_allclose(xb.inplace_predict(Xf), b.predict(Xf), atol=1e-5)
