"""sapwood.dask.train on a LocalCluster of worker processes: the model file equals
single-machine training's, byte for byte, for any partitioning and worker count."""

from __future__ import annotations

import os

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import sapwood  # noqa: E402
from sapwood.errors import DataError, ParameterError  # noqa: E402
from sapwood.train.callbacks import EarlyStopping, TrainingCallback  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(autouse=True)
def _fixed_time(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # both files record the same time


def _table(n: int = 6000, seed: int = 0, target: str = "binary") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[rng.random((n, 5)) < 0.3] = np.nan  # NaN-heavy
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    letters = np.array(list("abcdefghij"))
    df["city"] = pd.Categorical(letters[np.minimum(rng.geometric(0.35, n) - 1, 9)])
    signal = np.nan_to_num(X[:, 0]) - 0.7 * np.nan_to_num(X[:, 1]) + df["city"].isin(
        ["a", "c"]).to_numpy() + 0.5 * rng.normal(size=n)
    if target == "binary":
        y = (signal > 0.4).astype(np.float64)
    elif target == "multiclass":
        y = np.digitize(signal, [-0.2, 0.8]).astype(np.float64)
    else:
        y = 3.0 * signal + rng.standard_t(3, size=n)
    df["y"] = y
    df["w"] = rng.uniform(0.2, 3.0, n)
    return df


def _partitioned(df: pd.DataFrame, cuts: list[int]) -> dd.DataFrame:
    """Partitions at the given row positions (a repeated cut gives an empty partition)."""
    from dask import delayed

    bounds = [0, *cuts, len(df)]
    pieces = [df.iloc[a:b].copy() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return dd.from_delayed([delayed(p) for p in pieces], meta=df.iloc[:0], verify_meta=False)


_FEATURES = ["x0", "x1", "x2", "x3", "x4", "city"]
_PARTITIONINGS = {
    "1 partition": [],
    "3 uneven": [500, 4100],
    "7 with an empty one": [700, 1400, 1400, 2900, 3300, 5100],
}


def _single(params: dict, df: pd.DataFrame, weight: bool = True) -> sapwood.Booster:
    ds = sapwood.Dataset(df[_FEATURES], df["y"], df["w"] if weight else None)
    return sapwood.train(params, ds)


@pytest.mark.parametrize("objective", ["binary", "regression", "multiclass", "quantile",
                                       "multi_quantile"])
def test_same_model_file_for_any_partitioning(client, objective) -> None:
    target = {"binary": "binary", "multiclass": "multiclass"}.get(objective, "regression")
    df = _table(target=target)
    params = {"objective": objective, "n_estimators": 12, "num_leaves": 15,
              "learning_rate": 0.2, "subsample": 0.8, "colsample_bytree": 0.8,
              "random_state": 7, "bin_sample_rows": 2000, "min_child_samples": 10}
    if objective == "multiclass":
        params["num_class"] = 3
    if objective == "quantile":
        params["alpha"] = 0.8
    if objective == "multi_quantile":  # one output per level, each re-fitted at its level
        params["objective"], params["alpha"] = "quantile", [0.2, 0.5, 0.8]
    expected = _single(params, df).to_bytes()
    for name, cuts in _PARTITIONINGS.items():
        ddf = _partitioned(df[[*_FEATURES, "y", "w"]], cuts)
        got = sapwood.dask.train(params, ddf, label="y", weight="w")
        assert got.reference_profile is not None  # profiled on the workers, merged exactly
        assert got.to_bytes() == expected, f"{objective}, {name}"


def test_rows_are_spread_evenly_over_the_workers(client) -> None:
    """Uneven partitions (500, 3600 and 1900 rows) on 2 workers: whole partitions leave one
    worker 3600 rows; cutting the overloaded worker's largest partition gives each about 3000.
    The pieces, in order, are the original rows (so the model cannot change: the byte-identity
    test above runs the same partitionings through it)."""
    from sapwood.train.dask_training import _even_rows, _placed

    df = _table()
    futs, by_worker = _placed(client, _partitioned(df, [500, 4100]))
    cut, placed, _ = _even_rows(client, futs, by_worker)
    frames = client.gather(cut)
    pd.testing.assert_frame_equal(pd.concat(frames), df)
    rows = sorted(sum(len(frames[i]) for i in ids) for ids in placed.values())
    assert len(rows) == 2 and rows[1] - rows[0] <= 2 * max(1, 0.002 * 3000), rows
    assert sorted(i for ids in placed.values() for i in ids) == list(range(len(cut)))


@pytest.mark.parametrize("extra", [0.2, -0.2])
def test_the_leader_gets_its_extra_share(client, extra) -> None:
    """lead_extra=0.2 (-0.2): the leader (the worker already holding the most rows) trains on
    1.2 (0.8) x n / W rows, its peer on the rest; still the original rows, in order."""
    from sapwood.train.dask_training import _even_rows, _placed

    df = _table()
    futs, by_worker = _placed(client, _partitioned(df, [500, 4100]))
    held = {w: sum(len(client.gather(futs[i])) for i in ids) for w, ids in by_worker.items()}
    cut, placed, lead = _even_rows(client, futs, by_worker, lead_extra=extra)
    assert lead == max(sorted(held), key=lambda w: held[w])
    frames = client.gather(cut)
    pd.testing.assert_frame_equal(pd.concat(frames), df)
    rows = {w: sum(len(frames[i]) for i in ids) for w, ids in placed.items()}
    tol = 2 * max(1, 0.002 * 3000)
    assert abs(rows[lead] - 3000 * (1 + extra)) <= tol, rows
    assert abs(sum(rows.values()) - rows[lead] - 3000 * (1 - extra)) <= tol, rows


def test_any_batch_gives_the_same_model_and_fetches_few_leaves_ahead(client) -> None:
    """The batch only chooses which leaves' histograms are fetched ahead of the picks, never
    which split is taken: every batch gives single-machine training's file. Leaves that cannot
    be picked before the tree is full (the leaves and known children ranked above them fill
    it) are not fetched: the plain top-`batch` choice expanded 436 leaves for 300 splits here
    at batch 8 (45% wasted histograms) and 457 at 31; now at most 10% more than the splits,
    with no more round trips."""
    from sapwood.train.dask_training import _LAST_RUN

    df = _table(20000, seed=4)
    params = {"objective": "binary", "n_estimators": 10, "num_leaves": 31, "random_state": 0,
              "min_child_samples": 10}
    expected = _single(params, df).to_bytes()
    ddf = _partitioned(df[[*_FEATURES, "y", "w"]], [7000, 12000])
    calls = {}
    for batch in (1, 8, 31):
        got = sapwood.dask.train(params, ddf, label="y", weight="w", batch=batch)
        assert got.to_bytes() == expected, batch
        splits, fetched = _LAST_RUN["splits"], _LAST_RUN["expansions"]
        assert splits <= fetched <= 1.1 * splits, (batch, fetched, splits)
        calls[batch] = _LAST_RUN["calls"]
    assert calls[8] < 0.5 * calls[1]  # and the batch still saves round trips


def test_peers_called_through_dask_comms_or_actors_give_the_same_model(client, monkeypatch) -> None:
    """The leader calls its peers through a handler on their workers (Dask's comms, the
    default) or through actor calls: the same file, the same round trips."""
    from sapwood.train import dask_training
    from sapwood.train.dask_training import _LAST_RUN

    df = _table(seed=5)
    params = {"objective": "binary", "n_estimators": 6, "num_leaves": 15, "random_state": 3,
              "min_child_samples": 10}
    expected = _single(params, df).to_bytes()
    ddf = _partitioned(df[[*_FEATURES, "y", "w"]], [2500])
    calls = {}
    for comms in ("rpc", "actor"):
        monkeypatch.setattr(dask_training, "_COMMS", comms)
        assert sapwood.dask.train(params, ddf, label="y", weight="w").to_bytes() == expected
        calls[comms] = _LAST_RUN["calls"]
    assert calls["rpc"] == calls["actor"]
    assert not dask_training._SERVED  # every run's peers left the handler's table


def test_workers_sharing_one_process_train_the_same_model() -> None:
    """LocalCluster(processes=False): the workers share a process and an event loop. The
    leader's actor calls to its peers were made eagerly there, with a keyword the methods do
    not take (a TypeError in round 0); the peers are now found by address."""
    df = _table(seed=8)
    params = {"objective": "binary", "n_estimators": 5, "num_leaves": 15, "random_state": 1,
              "min_child_samples": 10}
    expected = _single(params, df).to_bytes()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        ddf = _partitioned(df[[*_FEATURES, "y", "w"]], [1000, 3500])
        got = sapwood.dask.train(params, ddf, label="y", weight="w", client=c)
    assert got.to_bytes() == expected


def test_the_peer_handler_serves_only_a_live_runs_growth_calls() -> None:
    """The handler on a peer's worker answers a leader's growth calls for a run it serves;
    an unknown run (ended, or a restarted worker) or any other method is an error sent back to
    the leader, never a call made."""
    from sapwood.train import dask_training
    from sapwood.train.dask_training import DaskTrainingError, TrainWorker, _serve

    w = TrainWorker([], [], {}, [], [])
    dask_training._SERVED["t1"] = w
    try:
        ok = _serve(token="t1", method="begin_round", args=())
        assert "ok" in ok
        for token, method in (("t2", "begin_round"), ("t1", "close"), ("t1", "__init__")):
            got = _serve(token=token, method=method, args=())
            assert isinstance(got["error"].data, DaskTrainingError), (token, method)
    finally:
        dask_training._SERVED.pop("t1", None)


def test_continued_training_same_model_file(client) -> None:
    """init_model: continuing a model on the workers gives sapwood.train's continuation, byte
    for byte (its trees added to the starting scores on the bin codes, the round counter moved
    on for the samples, the valid set's margins starting from it); a model grown on other bins
    is a ParameterError, not a silently different model."""
    df = _table(seed=5)
    va = _table(1500, seed=6)
    params = {"objective": "binary", "n_estimators": 6, "num_leaves": 15, "random_state": 3,
              "subsample": 0.8, "colsample_bytree": 0.8, "bin_sample_rows": 2000,
              "min_child_samples": 10}
    ds = sapwood.Dataset(df[_FEATURES], df["y"], df["w"])
    base = sapwood.train(params, ds)
    vds = sapwood.Dataset(va[_FEATURES], va["y"], va["w"])
    expected = sapwood.train(params, ds, valid_sets=[vds], valid_names=["v"], init_model=base)
    ddf = _partitioned(df[[*_FEATURES, "y", "w"]], [700, 1400, 1400, 2900, 3300, 5100])
    got = sapwood.dask.train(params, ddf, label="y", weight="w", init_model=base,
                             valid_sets=[dd.from_pandas(va[[*_FEATURES, "y", "w"]],
                                                        npartitions=2)],
                             valid_names=["v"])
    assert got.num_rounds == 12
    assert got.evals_result == expected.evals_result
    assert got.to_bytes() == expected.to_bytes()
    other = sapwood.train(dict(params, max_bin=31), ds)
    with pytest.raises(ParameterError, match="init_model"):
        sapwood.dask.train(params, ddf, label="y", weight="w", init_model=other)


def test_more_workers_and_series_labels() -> None:
    df = _table(4000, seed=3)
    params = {"objective": "binary", "n_estimators": 8, "num_leaves": 7, "random_state": 1,
              "bin_sample_rows": 1500}
    expected = _single(params, df, weight=False).to_bytes()
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as c:
        ddf = dd.from_pandas(df, npartitions=5)
        got = sapwood.dask.train(params, ddf[_FEATURES], label=ddf["y"], client=c)
        assert got.to_bytes() == expected
        # more workers than partitions
        got1 = sapwood.dask.train(params, dd.from_pandas(df, npartitions=1)[[*_FEATURES, "y"]],
                                  label="y", client=c)
        assert got1.to_bytes() == expected


def test_dask_array_input_matches_numpy_training(client) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 4))
    X[rng.random(X.shape) < 0.2] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 2]) ** 2 > 0.7).astype(float)
    params = {"objective": "binary", "n_estimators": 10, "num_leaves": 11, "random_state": 2,
              "bin_sample_rows": 3000}
    expected = sapwood.train(params, sapwood.Dataset(X, y))
    got = sapwood.dask.train(params, da.from_array(X, chunks=(1300, 4)),
                             label=da.from_array(y, chunks=2100))
    assert got.to_bytes() == expected.to_bytes()


@pytest.mark.parametrize("array_path", [True, False])
def test_dask_arrays_stay_numpy_on_the_workers_same_model(client, monkeypatch,
                                                          array_path) -> None:
    """Dask arrays travel as numpy blocks (no pandas frames) unless the frame path is asked
    for; both give single-machine training's bytes, with weights, init scores, float64 and
    integer blocks, uneven row chunks (one empty) and the reference profile."""
    from sapwood.train import dask_training

    monkeypatch.setattr(dask_training, "_ARRAY_PATH", array_path)
    rng = np.random.default_rng(8)
    n = 4000
    X = rng.normal(size=(n, 5))
    X[rng.random(X.shape) < 0.25] = np.nan
    X[:, 3] = rng.integers(0, 7, n)  # whole numbers in a float64 block
    y = (np.nan_to_num(X[:, 0]) - np.nan_to_num(X[:, 1]) + 0.2 * X[:, 3] > 0.5).astype(np.int64)
    w = rng.uniform(0.5, 2.0, n)
    off = rng.normal(scale=0.3, size=n)
    params = {"objective": "binary", "n_estimators": 8, "num_leaves": 9, "random_state": 3,
              "bin_sample_rows": 2500}
    expected = sapwood.train(params, sapwood.Dataset(X, y, w, init_score=off)).to_bytes()
    chunks = ((1100, 0, 1900, 1000), (2, 3))
    got = sapwood.dask.train(params, da.from_array(X, chunks=chunks),
                             label=da.from_array(y, chunks=700),
                             weight=da.from_array(w, chunks=1300),
                             init_score=da.from_array(off.reshape(-1, 1), chunks=(900, 1)))
    assert dask_training._LAST_RUN["input"] == ("arrays" if array_path else "frames")
    assert got.to_bytes() == expected


@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30])
def test_tiled_binning_equals_binning_whole_columns(monkeypatch, chunk_bytes) -> None:
    """The array path bins and fingerprints a chunk of rows at a time out of row-major blocks
    (_bin_tiles); the bin codes, block digests and cut pieces equal those of whole contiguous
    columns (column_blocks, binned_fill_columns), for chunks of one fingerprint block (4096
    rows) and of everything, runs of rows that start and end off block boundaries, blocks of
    mixed float32 / float64 and an empty block."""
    from sapwood import _core
    from sapwood.model.provenance import column_blocks
    from sapwood.train import dask_training

    monkeypatch.setattr(dask_training, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(3)
    sizes = [3000, 0, 7100, 4500]
    blocks = [rng.normal(size=(s, 3)).astype(np.float32 if i % 2 else np.float64)
              for i, s in enumerate(sizes)]
    blocks[2][rng.random(blocks[2].shape) < 0.3] = np.nan
    local = sum(sizes)
    cols = [np.concatenate([b[:, j] for b in blocks]) for j in range(3)]
    edges = [np.asarray(e) for e in _core.fit_bin_edges_columns(cols, [-1] * 3, 63, local, 0, 1)]
    # two runs of globally contiguous rows: local [0, 5000) at global 1234, then the rest at 20001
    runs, bounds, n_total = [[0, 1234], [5000, 20001]], [0, 5000, local], 40000
    binned = _core.binned_allocate(local, edges, [-1] * 3)
    got = dask_training._bin_tiles(binned, blocks, runs, bounds, n_total, 1)
    reference = _core.binned_allocate(local, edges, [-1] * 3)
    _core.binned_fill_columns(reference, 0, cols, 1)
    np.testing.assert_array_equal(binned.to_numpy(), reference.to_numpy())
    for j, col in enumerate(cols):
        whole: dict = {}
        cut: dict = {}
        for ri, (lo, g) in enumerate(runs):
            full, pcs = column_blocks(col[lo:bounds[ri + 1]], g, n_total)
            whole.update(full)
            for b, piece in pcs.items():
                cut.setdefault(b, []).append(piece)
        assert got[j] == (whole, cut)


def test_early_stopping_on_a_distributed_valid_set(client) -> None:
    df = _table(9000, seed=2)
    tr, va = df.iloc[:6000].reset_index(drop=True), df.iloc[6000:].reset_index(drop=True)
    params = {"objective": "binary", "n_estimators": 300, "num_leaves": 31,
              "learning_rate": 0.5, "random_state": 4, "metric": ["logloss", "auc"]}
    single = sapwood.train(params, sapwood.Dataset(tr[_FEATURES], tr["y"], tr["w"]),
                           valid_sets=[sapwood.Dataset(va[_FEATURES], va["y"], va["w"])],
                           valid_names=["val"], callbacks=[EarlyStopping(3)],
                           )
    got = sapwood.dask.train(params, dd.from_pandas(tr, npartitions=3), label="y", weight="w",
                             valid_sets=[dd.from_pandas(va, npartitions=2)], valid_names=["val"],
                             callbacks=[EarlyStopping(3)])
    assert single.num_rounds < 300  # it did stop early
    assert got.best_iteration == single.best_iteration
    assert got.evals_result == single.evals_result
    assert got.to_bytes() == single.to_bytes()


def test_target_statistics(client) -> None:
    df = _table(5000, seed=11)
    rng = np.random.default_rng(2)
    df["shop"] = pd.Categorical(rng.integers(0, 300, len(df)).astype(str))  # many levels
    feats = [*_FEATURES, "shop"]
    params = {"objective": "binary", "n_estimators": 6, "num_leaves": 9, "random_state": 5,
              "cat_encoding": "auto", "cat_ts_min_categories": 50}
    expected = sapwood.train(params, sapwood.Dataset(df[feats], df["y"], df["w"]))
    assert expected.schema[-1]["encoding"] == "target_stats"  # "shop"; "city" stays native
    got = sapwood.dask.train(params, _partitioned(df[[*feats, "y", "w"]], [1200, 1200, 3000]),
                             label="y", weight="w")
    assert got.to_bytes() == expected.to_bytes()


def test_monotone_and_interaction_constraints(client) -> None:
    df = _table(5000, seed=12, target="regression")
    params = {"objective": "regression", "n_estimators": 8, "num_leaves": 15,
              "monotone_constraints": {"x0": 1, "x1": -1},
              "interaction_constraints": [["x0", "x1"], ["x2", "city"]]}
    expected = sapwood.train(params, sapwood.Dataset(df[_FEATURES], df["y"], df["w"]))
    got = sapwood.dask.train(params, dd.from_pandas(df, npartitions=3), label="y", weight="w")
    assert got.to_bytes() == expected.to_bytes()


def test_class_weights_and_offsets(client) -> None:
    df = _table(5000, seed=8)
    df["off"] = np.random.default_rng(1).normal(size=len(df)) * 0.3
    params = {"objective": "binary", "n_estimators": 6, "num_leaves": 9, "random_state": 3,
              "class_weight": "balanced", "scale_pos_weight": 1.5}
    ds = sapwood.Dataset(df[_FEATURES], df["y"], df["w"], init_score=df["off"].to_numpy())
    expected = sapwood.train(params, ds)
    got = sapwood.dask.train(params, dd.from_pandas(df, npartitions=4), label="y", weight="w",
                             init_score="off")
    assert got.to_bytes() == expected.to_bytes()


def test_estimators(client) -> None:
    df = _table(5000, seed=9, target="multiclass")
    ddf = dd.from_pandas(df, npartitions=3)
    clf = sapwood.dask.DaskGBMClassifier(n_estimators=8, num_leaves=9, random_state=0)
    clf.fit(ddf[_FEATURES], ddf["y"])
    local = sapwood.GBMClassifier(n_estimators=8, num_leaves=9, random_state=0, n_jobs=1)
    local.fit(df[_FEATURES], df["y"])
    np.testing.assert_array_equal(clf.classes_, local.classes_)
    np.testing.assert_array_equal(clf.predict_proba(ddf[_FEATURES]).compute(),
                                  local.predict_proba(df[_FEATURES]))
    np.testing.assert_array_equal(clf.predict(ddf[_FEATURES]).compute(),
                                  local.predict(df[_FEATURES]))
    np.testing.assert_array_equal(clf.to_local().predict(df[_FEATURES]),
                                  local.predict(df[_FEATURES]))
    reg = sapwood.dask.DaskGBMRegressor(n_estimators=5, objective="l1")
    dfr = _table(3000, seed=1, target="regression")
    reg.fit(dd.from_pandas(dfr, npartitions=2)[_FEATURES], dd.from_pandas(dfr, npartitions=2)["y"])
    lr = sapwood.GBMRegressor(n_estimators=5, objective="l1").fit(dfr[_FEATURES], dfr["y"])
    np.testing.assert_array_equal(
        reg.predict(dd.from_pandas(dfr, npartitions=2)[_FEATURES]).compute().to_numpy(),
        lr.predict(dfr[_FEATURES]))


def test_bad_input_names_what_is_wrong(client) -> None:
    df = _table(2000, seed=4)
    df.loc[1234, "y"] = np.nan
    ddf = dd.from_pandas(df, npartitions=3)
    with pytest.raises(DataError, match="row 1234"):
        sapwood.dask.train({"objective": "binary"}, ddf, label="y")
    with pytest.raises(DataError, match="label column 'nope'"):
        sapwood.dask.train({"objective": "binary"}, ddf, label="nope")
    ok = dd.from_pandas(_table(2000, seed=4), npartitions=2)
    with pytest.raises(ParameterError, match="cat_encoding"):
        sapwood.dask.train({"objective": "binary", "cat_encoding": "ordinal"}, ok, label="y")
    with pytest.raises(DataError, match="partitions"):
        sapwood.dask.train({"objective": "binary"}, ok[_FEATURES],
                           label=dd.from_pandas(_table(2000, seed=4)["y"], npartitions=3))
    # cox: its risk sets span every row, so it is refused by name (not trained differently)
    with pytest.raises(ParameterError, match="cox"):
        sapwood.dask.train({"objective": "cox"}, ok[[*_FEATURES, "w"]], label="w")


def _actors_left(c) -> int:
    return sum(c.run(lambda dask_worker: len(dask_worker.state.actors)).values())


class _Interrupt(TrainingCallback):
    def after_iteration(self, env) -> bool:
        if env.iteration == 2:
            raise KeyboardInterrupt
        return False


def test_interrupt_frees_the_workers(client) -> None:
    ddf = dd.from_pandas(_table(3000, seed=6), npartitions=3)
    with pytest.raises(KeyboardInterrupt):
        sapwood.dask.train({"objective": "binary", "n_estimators": 50}, ddf, label="y",
                           callbacks=[_Interrupt()])
    import time

    deadline = time.monotonic() + 20
    while _actors_left(client) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _actors_left(client) == 0


class _KillWorker(TrainingCallback):
    def __init__(self, cluster, address: str | None = None) -> None:
        self.cluster, self.address = cluster, address

    def after_iteration(self, env) -> bool:
        if env.iteration == 3:
            for w in list(self.cluster.workers.values()):
                if self.address is None or w.worker_address == self.address:
                    os.kill(w.process.pid, 9)  # the worker process dies mid-run
                    break
        return False


@pytest.mark.parametrize("which", ["leader", "peer"])
def test_a_worker_dying_is_a_clear_error(which) -> None:
    """The leader (the worker growing the trees: with equal rows, the first by address) or a
    peer (whose histograms the leader asks for) dies after round 3: a DaskTrainingError names
    the worker and round 4, raised on the client, without hanging."""
    from sapwood.train.dask_training import DaskTrainingError

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as c:
        ddf = dd.from_pandas(_table(4000, seed=2), npartitions=4)
        addresses = sorted(c.scheduler_info()["workers"])
        victim = addresses[0] if which == "leader" else addresses[1]
        with pytest.raises(DaskTrainingError, match=rf"worker {victim} .* round 4"):
            sapwood.dask.train({"objective": "binary", "n_estimators": 40}, ddf, label="y",
                               callbacks=[_KillWorker(cluster, victim)], client=c)


def _ranking_table(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 30, 300)
    n = int(sizes.sum())
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    rel = np.clip(np.round(np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1])
                           + 0.5 * rng.normal(size=n) + 1), 0, 4)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["y"] = rel
    df["q"] = np.repeat(np.arange(sizes.size), sizes)
    return df, np.cumsum(sizes)


@pytest.mark.parametrize("objective", ["lambdarank", "rank_xendcg"])
def test_ranking_same_model_file(client, objective) -> None:
    df, ends = _ranking_table()
    feats = [f"x{i}" for i in range(5)]
    tr, va = df[df.q < 240].reset_index(drop=True), df[df.q >= 240].reset_index(drop=True)
    params = {"objective": objective, "n_estimators": 40, "num_leaves": 15, "random_state": 3,
              "subsample": 0.9, "metric": "ndcg@5", "learning_rate": 0.3}
    single = sapwood.train(params, sapwood.Dataset(tr[feats], tr["y"], qid=tr["q"].to_numpy()),
                           valid_sets=[sapwood.Dataset(va[feats], va["y"],
                                                       qid=va["q"].to_numpy())],
                           valid_names=["val"], callbacks=[EarlyStopping(3)])
    cuts = [int(e) for e in ends[[40, 41, 150]]]  # at query boundaries (and one empty)
    cuts.insert(1, cuts[0])
    got = sapwood.dask.train(params, _partitioned(tr, cuts), label="y", group="q",
                             valid_sets=[dd.from_pandas(va, npartitions=2)], valid_names=["val"],
                             callbacks=[EarlyStopping(3)])
    assert got.evals_result == single.evals_result
    assert got.to_bytes() == single.to_bytes()
    ranker = sapwood.dask.DaskGBMRanker(n_estimators=5, num_leaves=7)
    ddf = _partitioned(tr, cuts)
    ranker.fit(ddf[feats], ddf["y"], group=ddf["q"])
    local = sapwood.GBMRanker(n_estimators=5, num_leaves=7, n_jobs=1).fit(
        tr[feats], tr["y"], qid=tr["q"].to_numpy())
    np.testing.assert_array_equal(ranker.predict(ddf[feats]).compute().to_numpy(),
                                  local.predict(tr[feats]))


def test_a_query_across_partitions_is_named(client) -> None:
    df, ends = _ranking_table(1)
    with pytest.raises(DataError, match="spans partitions"):
        sapwood.dask.train({"objective": "lambdarank"}, _partitioned(df, [int(ends[10]) + 1]),
                           label="y", group="q")
    with pytest.raises(DataError, match="needs query groups"):
        sapwood.dask.train({"objective": "lambdarank"}, dd.from_pandas(df, npartitions=2),
                           label="y")


def _int64s(draw, n: int, bits: int) -> np.ndarray:
    from hypothesis import strategies as st

    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lim = 2 ** (bits - 1)
    vals = rng.integers(-lim, lim, size=n, dtype=np.int64) if bits < 64 else \
        rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=n, dtype=np.int64)
    return vals


def test_narrowed_histograms_add_up_exactly() -> None:
    """_core.hist_narrow / hist_add_narrow (the peers' histograms on the wire) against plain
    numpy int64 addition: every width from 1 to 8 bytes, blocks cut short, zeros, the extremes
    and mixed magnitudes within a block; and the bytes are fewer for small sums."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sapwood import _core

    @settings(deadline=None, derandomize=True, max_examples=60)
    @given(st.data())
    def check(data) -> None:
        n_hist = data.draw(st.integers(1, 3))
        slots = data.draw(st.integers(0, 300))
        bits = data.draw(st.sampled_from([1, 2, 7, 8, 9, 16, 33, 48, 62]))
        h = _int64s(data.draw, n_hist * slots * 2, bits).reshape(n_hist, slots, 2)
        if slots and data.draw(st.booleans()):  # one big word among small ones
            h[0, data.draw(st.integers(0, slots - 1)), 1] = -(2**60) + 3
        if slots and data.draw(st.booleans()):
            h[..., 0] = 0
        total = _int64s(data.draw, n_hist * slots * 2, 62).reshape(n_hist, slots, 2)
        expected = total + h
        packed = _core.hist_narrow(h)
        assert packed.dtype == np.uint8
        _core.hist_add_narrow(total, packed)
        np.testing.assert_array_equal(total, expected)

    check()
    small = np.arange(-64, 64, dtype=np.int64).reshape(64, 2)
    assert _core.hist_narrow(small).size == 2 + 64 * 2  # one byte a word, two width bytes
    extremes = np.array([[np.iinfo(np.int64).min, np.iinfo(np.int64).max]], dtype=np.int64)
    t = np.zeros((1, 2), dtype=np.int64)
    _core.hist_add_narrow(t, _core.hist_narrow(extremes))
    np.testing.assert_array_equal(t, extremes)


def test_malformed_narrowed_histograms_are_data_errors() -> None:
    from sapwood import _core

    h = np.arange(200, dtype=np.int64).reshape(100, 2) * 1000
    packed = _core.hist_narrow(h)
    total = np.zeros((100, 2), dtype=np.int64)
    with pytest.raises(DataError, match="truncated"):
        _core.hist_add_narrow(total, packed[:-1])
    with pytest.raises(DataError, match="do not match"):
        _core.hist_add_narrow(np.zeros((99, 2), dtype=np.int64), packed)
    bad = packed.copy()
    bad[0] = 9
    with pytest.raises(DataError, match="width"):
        _core.hist_add_narrow(total, bad)
    with pytest.raises(DataError, match="2 words"):
        _core.hist_narrow(np.zeros((4, 3), dtype=np.int64))
