"""Every Booster that `save` accepts loads back (file and pickle), predicts the same, and its
reference profile still compares: on data with +-inf, NaN, constant, all-NaN and huge values.

Issue 14 item 1: a column with -inf in more than ~0.5% of rows gave the model a -inf bin edge,
which the reference profile copied; the file saved but `load` / `pickle.loads` refused it.
"""

import pickle

import numpy as np
import pytest
import sapwood
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sapwood import Profile, SapwoodError

F32_MAX = float(np.finfo(np.float32).max)


def _column(rng: np.random.Generator, n: int, base: str, specials: dict[str, float]) -> np.ndarray:
    if base == "normal":
        x = rng.standard_normal(n)
    elif base == "constant":
        x = np.full(n, 2.5)
    elif base == "two_values":
        x = rng.choice([-1.0, 7.0], n)
    elif base == "huge_f32":  # at and near the float32 limits
        x = rng.choice([F32_MAX, -F32_MAX, np.nextafter(np.float32(F32_MAX), 0).item(), 0.0,
                        1e38, -1e38], n)
    elif base == "huge_f64":  # finite doubles beyond the float32 range
        x = rng.choice([1e300, -1e300, 1e39, 3.0, -2e308], n)
    elif base == "tiny":
        x = rng.choice([5e-324, -5e-324, 0.0, -0.0, 1e-40], n)
    else:  # integers
        x = rng.integers(-3, 4, n).astype(np.float64)
    for what, frac in specials.items():
        if frac <= 0:
            continue
        mask = rng.random(n) < frac if frac < 1 else np.ones(n, dtype=bool)
        x[mask] = {"neg_inf": -np.inf, "pos_inf": np.inf, "nan": np.nan}[what]
    return x


fractions = st.sampled_from([0.0, 0.0, 0.006, 0.05, 0.5, 1.0])
columns = st.tuples(
    st.sampled_from(["normal", "constant", "two_values", "huge_f32", "huge_f64", "tiny", "int"]),
    st.fixed_dictionaries({"neg_inf": fractions, "pos_inf": fractions, "nan": fractions}),
)


def _same_predictions(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # NaN == NaN here


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(columns, min_size=1, max_size=4), st.integers(20, 400), st.integers(0, 2**31),
       st.sampled_from(["regression", "binary"]))
def test_every_saved_booster_loads_predicts_and_compares(tmp_path_factory, cols, n, seed,
                                                         objective):
    rng = np.random.default_rng(seed)
    X = np.column_stack([_column(rng, n, base, specials) for base, specials in cols])
    y = rng.standard_normal(n) if objective == "regression" else (rng.random(n) < 0.5) * 1.0
    params = {"objective": objective, "n_estimators": 3, "min_child_samples": 2, "n_jobs": 1}
    try:
        b = sapwood.train(params, sapwood.Dataset(X, y))
    except SapwoodError:
        return  # refusing the data with a clear error is allowed; crashing is not
    path = tmp_path_factory.mktemp("m") / "m.sapwood"
    try:
        b.save(path)
    except SapwoodError:
        return
    assert path.exists()
    loaded = sapwood.load(path)  # every saved model loads
    unpickled = pickle.loads(pickle.dumps(b))
    want = b.predict(X)
    _same_predictions(loaded.predict(X), want)
    _same_predictions(unpickled.predict(X), want)
    for m in (b, loaded, unpickled):
        ref = m.reference_profile
        assert ref is not None
        assert Profile.from_json(ref.to_json()) == ref
        for c in ref.columns.values():  # a profile's edges are finite, strictly increasing
            e = getattr(c, "edges", None)
            if e is not None:
                assert np.isfinite(e).all() and (np.diff(e) > 0).all()
        report = sapwood.monitoring.compare(m, X)
        assert set(report.features) >= set(m.feature_names)


def test_frequent_neg_inf_repro(tmp_path):
    """The issue's repro: -inf in 10 of 2,000 rows of one column."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3))
    y = X[:, 0] + rng.standard_normal(2000) * 0.1
    X[:10, 1] = -np.inf
    b = sapwood.train({"n_estimators": 5}, sapwood.Dataset(X, y))
    assert np.isneginf(b.bin_edges[1][0])  # the model keeps -inf as a bin of its own
    again = pickle.loads(pickle.dumps(b))
    b.save(tmp_path / "m.sapwood")
    loaded = sapwood.load(tmp_path / "m.sapwood")
    for m in (again, loaded):
        _same_predictions(m.predict(X), b.predict(X))
        col = m.reference_profile["f1"]
        assert np.isfinite(col.edges).all()
        assert col.neg_inf_count == 10 and col.finite_count == 1990
    # monitoring still sees -inf: a batch with more of it raises the inf share
    X2 = X.copy()
    X2[:400, 1] = -np.inf
    f1 = sapwood.monitoring.compare(loaded, X2).features["f1"]
    assert f1["inf_share_reference"] == pytest.approx(10 / 2000)
    assert f1["inf_share_current"] == pytest.approx(400 / 2000)


def test_infinite_given_edges_are_dropped():
    """+-inf edges (a mapping, a model's bins) bound always-empty bins: the profile drops them
    and counts +-inf apart, so it stays valid to store."""
    x = np.array([-np.inf, -1.0, 0.0, 0.5, 2.0, np.inf, np.nan]).reshape(-1, 1)
    col = Profile.from_data(x, edges_from={"f0": [-np.inf, 0.0, 1.0, np.inf]})["f0"]
    np.testing.assert_array_equal(col.edges, np.array([0.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(col.counts, [2, 1, 1])
    assert (col.neg_inf_count, col.pos_inf_count, col.null_count) == (1, 1, 1)
    p = Profile.from_data(x)
    assert Profile.from_json(p.to_json()) == p
    with pytest.raises(sapwood.DataError, match="column 0"):
        Profile.from_data(x, edges_from={"f0": [0.0, np.nan]})


def test_files_saved_with_an_infinite_profile_edge_load():
    """tests/data/neg_inf_edge_profile_v1.sapwood was saved by the sapwood before the fix
    (300 rows, -inf in 10 rows of f1): its reference profile has a -inf first edge. It loads,
    read as the profiler writes it now (edge dropped, its empty outer bin merged)."""
    from pathlib import Path

    path = Path(__file__).parent.parent / "data" / "neg_inf_edge_profile_v1.sapwood"
    b = sapwood.load(path)
    col = b.reference_profile["f1"]
    assert np.isfinite(col.edges).all() and col.neg_inf_count == 10
    assert col.finite_count == 290 and col.num_rows == 300
    assert pickle.loads(pickle.dumps(b)).reference_profile == b.reference_profile
    rng = np.random.default_rng(14)  # the data it was trained on
    X = rng.standard_normal((300, 2))
    X[:10, 1] = -np.inf
    fresh = Profile.from_data(X, edges_from=b.reference_profile)
    assert fresh["f1"].to_dict() == col.to_dict()  # counted over the repaired edges, the same data gives the same
    assert sapwood.monitoring.compare(b, X).passed


def test_outer_infinite_edges_in_stored_profiles_are_merged():
    p = Profile.from_data(np.array([[-1e300], [0.0], [1.0], [2.0], [1e300]]))
    d = p.to_dict()
    c = d["columns"][0]
    # as the buggy profiler could write it: -inf / +inf outer edges, -1e300 (float32 -inf) in
    # the bin up to -inf, +1e300 (float32 +inf) in the one up to +inf, nothing above +inf
    want = list(c["counts"])
    c["edges"] = [-np.inf, *c["edges"], np.inf]
    c["counts"] = [1, want[0] - 1, *want[1:], 0]
    q = Profile.from_dict(d)
    assert q == p
    c["counts"][0] = 2**63 - 1
    c["counts"][1] = 2**63 - 1
    with pytest.raises(sapwood.ModelFormatError, match="columns\\[0\\].counts"):
        Profile.from_dict(d)
