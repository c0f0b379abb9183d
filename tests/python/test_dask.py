"""sapwood.dask on a distributed.LocalCluster (2 workers): identical to local scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

import sapwood  # noqa: E402
import sapwood.dask as sdask  # noqa: E402
from sapwood.scoring.api import score as local_score  # noqa: E402

FEATURES = [f"x{i}" for i in range(5)]


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    df = pd.DataFrame(X, columns=FEATURES)
    df.insert(0, "id", np.arange(n))
    return df


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module", params=["binary", "multiclass"])
def booster(request: pytest.FixtureRequest) -> sapwood.Booster:
    df = _frame(2000, 1)
    x = df[FEATURES].fillna(0).to_numpy()
    params: dict[str, object] = {"objective": request.param, "n_estimators": 10,
                                 "num_leaves": 15}
    if request.param == "multiclass":
        y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
        params["num_class"] = 3
    else:
        y = (x[:, 0] + x[:, 1] > 0).astype(float)
    return sapwood.train(params, sapwood.Dataset(df[FEATURES], y))


def test_predict_equals_local(client, booster: sapwood.Booster) -> None:  # type: ignore[no-untyped-def]
    df = _frame(5000, 2)
    ddf = dd.from_pandas(df, npartitions=7)
    got = sdask.predict(booster, ddf).compute()
    want = booster.predict(df[FEATURES])
    np.testing.assert_array_equal(np.asarray(got).reshape(want.shape), want)
    assert list(got.index) == list(df.index)
    raw = sdask.predict(booster, ddf, output="raw").compute()
    np.testing.assert_array_equal(np.asarray(raw).reshape(want.shape),
                                  booster.predict(df[FEATURES], "raw"))


def test_model_is_one_graph_key(booster: sapwood.Booster) -> None:
    ddf = dd.from_pandas(_frame(1000, 3), npartitions=5)
    graph = dict(sdask.predict(booster, ddf).__dask_graph__())
    model_keys = [k for k in graph if "sapwood-model" in str(k)]
    assert len(model_keys) == 1  # shipped once per worker, not embedded in each task


def test_score_job_equals_local(client, booster: sapwood.Booster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "in").mkdir()
    for i in range(4):
        pq.write_table(pa.Table.from_pandas(_frame(700 + 100 * i, 10 + i), preserve_index=False),
                       tmp_path / "in" / f"p{i}.parquet")
    s = sdask.score(booster, str(tmp_path / "in" / "*.parquet"), tmp_path / "out",
                    id_columns=["id"])
    assert s.parts_written == 4 and s.rows == sum(700 + 100 * i for i in range(4))
    local_score(booster, tmp_path / "in", tmp_path / "local", id_columns=["id"], progress=False)
    for i in range(4):
        a = pq.read_table(tmp_path / "out" / f"p{i}.parquet")
        b = pq.read_table(tmp_path / "local" / f"p{i}.parquet")
        assert a.equals(b)
    s2 = sdask.score(booster, str(tmp_path / "in"), tmp_path / "out", id_columns=["id"],
                     resume=True)
    assert s2.parts_skipped == 4 and s2.parts_written == 0


def test_profile_tree_reduction_is_exact(client, booster: sapwood.Booster) -> None:  # type: ignore[no-untyped-def]
    df = _frame(6000, 4)
    ddf = dd.from_pandas(df, npartitions=11)
    prof = sdask.profile(ddf, booster=booster, split_every=3)
    edges = prof  # the same edges, on the whole frame at once
    whole = sapwood.Profile.from_data(df, edges_from=edges,
                                      predictions=booster.predict(df[FEATURES]))
    assert prof.num_rows == 6000
    assert prof == whole


def test_score_job_formats_and_outputs_inside_inputs(client, booster: sapwood.Booster,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    """The Dask job plans as the local one: parts take the output format (csv.gz here), and
    an output folder inside the input folder is refused before any task runs."""
    (tmp_path / "in").mkdir()
    frames = [_frame(300 + 50 * i, 20 + i) for i in range(3)]
    for i, df in enumerate(frames):
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False),
                       tmp_path / "in" / f"p{i}.parquet")
    s = sdask.score(booster, tmp_path / "in", tmp_path / "out", output_format="csv.gz",
                    id_columns=["id"])
    assert s.parts_written == 3
    import pyarrow.csv as pacsv

    for i, df in enumerate(frames):
        got = pacsv.read_csv(tmp_path / "out" / f"p{i}.csv.gz")
        np.testing.assert_array_equal(got["id"].to_numpy(), df["id"].to_numpy())
        want = booster.predict(df[FEATURES])
        np.testing.assert_allclose(got.drop(["id"]).to_pandas().to_numpy().reshape(want.shape),
                                   want, rtol=1e-12)
    before = sorted(p.name for p in (tmp_path / "in").rglob("*"))
    with pytest.raises(sapwood.ParameterError, match="inside the input folder"):
        sdask.score(booster, tmp_path / "in", tmp_path / "in" / "scores")
    assert sorted(p.name for p in (tmp_path / "in").rglob("*")) == before


def test_dask_uses_only_public_scoring_functions() -> None:
    """Issue 13: dask.py imported scoring's private helpers; it uses public ones only."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(sdask))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "scoring" in node.module:
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, (node.module, private)
