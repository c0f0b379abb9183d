"""sapwood.monitoring: statistics against scipy/numpy references, alarms, schema, config, reports."""

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood import Profile
from sapwood.monitoring import MonitorConfig, calibrate, compare, profile_for_booster
from sapwood.monitoring import stats as mst
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon


def _pair(ref_x, cur_x, **kw):
    ref = Profile.from_data(np.asarray(ref_x, dtype=np.float64).reshape(-1, 1), **kw)
    cur = Profile.from_data(np.asarray(cur_x, dtype=np.float64).reshape(-1, 1), edges_from=ref)
    return ref, cur


# ---------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("seed,shift", [(0, 0.0), (1, 0.3), (2, 1.0)])
def test_psi_equals_numpy_on_the_same_cuts_and_near_raw_deciles(seed, shift):
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(100_000)
    c = rng.standard_normal(50_000) * 1.2 + shift
    ref, cur = _pair(r, c)
    rep = compare(ref, cur)
    got = rep.features["f0"]["psi"]
    cuts = np.asarray(rep.features["f0"]["decile_cuts"], dtype=np.float32)
    # numpy reference on the raw values with the report's cut points (float32 "v <= cut")
    rb = np.bincount(np.searchsorted(cuts, r.astype(np.float32), side="left"), minlength=10)
    cb = np.bincount(np.searchsorted(cuts, c.astype(np.float32), side="left"), minlength=10)
    p = np.maximum(rb / rb.sum(), 1e-4)
    q = np.maximum(cb / cb.sum(), 1e-4)
    assert got == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-9, abs=1e-12)
    # against cut points at the raw deciles: within the binning error
    dec = np.quantile(r, np.linspace(0.1, 0.9, 9))
    rb2 = np.bincount(np.searchsorted(dec, r, side="left"), minlength=10)
    cb2 = np.bincount(np.searchsorted(dec, c, side="left"), minlength=10)
    p2, q2 = rb2 / rb2.sum(), cb2 / cb2.sum()
    raw_psi = np.sum((q2 - p2) * np.log(q2 / p2))
    assert abs(got - raw_psi) <= 0.05 * raw_psi + 2e-3


@pytest.mark.parametrize("dist", ["normal", "lognormal", "uniform"])
def test_wasserstein_within_binning_error(dist):
    rng = np.random.default_rng(11)
    gen = {"normal": lambda n: rng.standard_normal(n),
           "lognormal": lambda n: rng.lognormal(size=n),
           "uniform": lambda n: rng.random(n)}[dist]
    r, c = gen(80_000), gen(60_000) * 1.1 + 0.05
    ref, cur = _pair(r, c)
    got = mst.wasserstein_binned(ref["f0"], cur["f0"])
    want = sps.wasserstein_distance(r, c)
    bound = mst.wasserstein_error_bound(ref["f0"], cur["f0"])
    assert abs(got - want) <= bound
    # equal-frequency bins are wide in a heavy tail, where the uniform-within-bin assumption
    # costs most; relative to the reference sd (the scale of the thresholds) it stays small
    if dist == "lognormal":
        assert abs(got - want) <= 0.03 * np.std(r)
    else:
        assert got == pytest.approx(want, rel=0.02)
    rep = compare(ref, cur)
    assert rep.features["f0"]["wasserstein"] == pytest.approx(got / np.std(r), rel=1e-9)


def test_ks_exact_on_discrete_data_and_pvalue():
    rng = np.random.default_rng(3)
    r = rng.integers(0, 40, 30_000).astype(np.float64)
    c = np.minimum(rng.poisson(19.0, 20_000), 45).astype(np.float64)
    ref, cur = _pair(r, c)
    # fine bins separate every distinct value, so the binned statistic is the exact one
    f = compare(ref, cur).features["f0"]
    want = sps.ks_2samp(r, c)
    assert f["ks_statistic"] == pytest.approx(want.statistic, abs=1e-9)
    en = len(r) * len(c) / (len(r) + len(c))
    assert f["ks_pvalue"] == pytest.approx(sps.kstwobign.sf(np.sqrt(en) * want.statistic),
                                           rel=1e-9, abs=1e-300)


def test_ks_close_on_continuous_data():
    rng = np.random.default_rng(4)
    r, c = rng.standard_normal(50_000), rng.standard_normal(50_000) + 0.02
    ref, cur = _pair(r, c)
    d = mst.ks_binned(ref["f0"], cur["f0"])
    want = sps.ks_2samp(r, c).statistic
    # within one fine bin's mass
    assert abs(d - want) <= (ref["f0"].counts.max() / 50_000 + cur["f0"].counts.max() / 50_000)


def test_many_columns_at_once_equal_the_one_column_statistics():
    # compare() computes every numeric column's figures in stacked arrays; each must equal the
    # one-column functions (and numpy on the bins): columns of different bin counts, a column
    # empty on one side, one far outside the reference range, one on other edges.
    rng = np.random.default_rng(21)
    n = 3_000
    ref_df = pd.DataFrame({
        "a": rng.standard_normal(n),
        "b": rng.integers(0, 5, n).astype(np.float64),  # few bins
        "c": rng.lognormal(size=n),
        "d": np.full(n, np.nan),  # no finite value in the reference
        "e": rng.standard_normal(n),
        "f": rng.random(n),
    })
    cur_df = pd.DataFrame({
        "a": rng.standard_normal(n // 2) + 0.4,
        "b": rng.integers(0, 7, n // 2).astype(np.float64),
        "c": np.full(n // 2, np.nan),  # no finite value in the current batch
        "d": rng.standard_normal(n // 2),
        "e": rng.standard_normal(n // 2) * 3 + 10,  # mostly outside the reference range
        "f": rng.random(n // 2),
    })
    ref = Profile.from_data(ref_df)
    cur = Profile.from_data(cur_df, edges_from=ref)
    pairs = [(ref[c], cur[c]) for c in ref_df.columns]
    got = mst.numeric_drift_many(pairs)
    for (r, c), g in zip(pairs, got, strict=True):
        assert g.edges_equal
        ends = mst.decile_groups(r.counts)
        assert g.ends.tolist() == ends.tolist()
        want = mst.numeric_drift(r, c, ends)
        for a, b in zip((g.psi, g.wasserstein_raw, g.ks), want, strict=True):
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-15)
        if r.finite_count and c.finite_count:
            assert g.ks == pytest.approx(mst.ks_binned(r, c), rel=1e-12)
            assert g.wasserstein_raw == pytest.approx(mst.wasserstein_binned(r, c), rel=1e-9)
            nz = np.flatnonzero(r.counts)
            inside = c.counts[nz[0]: nz[-1] + 1].sum()
            assert g.out_of_range_share == (c.finite_count - inside) / c.finite_count
        else:
            assert math.isnan(g.out_of_range_share)
    assert got[4].out_of_range_share > 0.5
    # a current profile on other edges is refused by name, the others unaffected
    other = Profile.from_data(cur_df[["f"]] * 2.0)
    flags = mst.numeric_drift_many([(ref["a"], cur["a"]), (ref["f"], other["f"])])
    assert [g.edges_equal for g in flags] == [True, False]
    with pytest.raises(sapwood.DataError, match="column 'f'.*bin edges"):
        compare(ref, other)  # (the other columns are missing: named in the report)


@pytest.mark.parametrize("x", [0.0, 0.05, 0.2, 0.5, 0.8, 0.99, 1.0, 1.2, 2.0, 3.5, 6.0, 10.0])
def test_kolmogorov_sf_matches_scipy(x):
    assert mst.kolmogorov_sf(x) == pytest.approx(sps.kstwobign.sf(x), rel=1e-9, abs=1e-15)


def test_categorical_psi_js_unseen_vs_references():
    rng = np.random.default_rng(5)
    r = rng.choice(["a", "b", "c", "d"], 40_000, p=[0.4, 0.3, 0.2, 0.1])
    c = rng.choice(["a", "b", "c", "z"], 30_000, p=[0.3, 0.3, 0.3, 0.1])
    ref = Profile.from_data(pd.DataFrame({"s": r}))
    rep = compare(ref, pd.DataFrame({"s": c}))
    f = rep.features["s"]
    cats = ["a", "b", "c", "d"]
    rc = np.array([np.sum(r == k) for k in cats] + [0], dtype=float)
    cc = np.array([np.sum(c == k) for k in cats] + [np.sum(c == "z")], dtype=float)
    p = np.maximum(rc / rc.sum(), 1e-4)
    q = np.maximum(cc / cc.sum(), 1e-4)
    assert f["psi"] == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-9)
    assert f["jensen_shannon"] == pytest.approx(jensenshannon(rc / rc.sum(), cc / cc.sum()),
                                                rel=1e-9)
    assert f["unseen_share"] == pytest.approx(np.mean(c == "z"), rel=1e-12)
    assert f["unseen_categories"] == {"z": int(np.sum(c == "z"))}
    assert f["status"] == "fail"


def test_quality_statistics_exact():
    rng = np.random.default_rng(6)
    r = rng.standard_normal(10_000)
    c = rng.standard_normal(8_000) * 2
    c[:80] = np.nan
    c[80:84] = np.inf
    ref, cur = _pair(r, c)
    f = compare(ref, cur).features["f0"]
    fin = c[np.isfinite(c)]
    assert f["out_of_range_share"] == pytest.approx(
        np.mean((fin < r.min()) | (fin > r.max())), rel=1e-12)
    assert f["null_rate_increase"] == pytest.approx(80 / 8000, rel=1e-12)
    assert f["inf_share_increase"] == pytest.approx(4 / 8000, rel=1e-12)
    assert f["checks"]["inf_share_increase"] == "warn"
    assert f["mean_current"] == pytest.approx(np.mean(fin), rel=1e-12)


# ---------------------------------------------------------------------------- alarms
def _frame(rng, n, cols=20):
    return pd.DataFrame(rng.standard_normal((n, cols)), columns=[f"c{i}" for i in range(cols)])


def test_no_false_alarm_at_1m_rows():
    rng = np.random.default_rng(100)
    ref = Profile.from_data(_frame(rng, 1_000_000))
    rep = compare(ref, _frame(rng, 1_000_000))
    assert rep.passed and rep.flagged() == [], rep.summary()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_false_alarm_several_seeds(seed):
    rng = np.random.default_rng(seed)
    ref = Profile.from_data(_frame(rng, 200_000))
    for n in (200_000, 20_000):
        rep = compare(ref, _frame(rng, n))
        assert rep.passed and rep.flagged() == [], rep.summary()


def test_planted_shifts_are_detected():
    rng = np.random.default_rng(7)
    n = 200_000
    ref_df = _frame(rng, n, 8)
    ref_df["cat"] = rng.choice(list("abcd"), n)
    cur = _frame(rng, n, 8)
    cur["cat"] = rng.choice(list("abcd"), n)
    cur["c0"] += 0.25  # mean shift of 0.25 sd
    cur["c1"] *= 1.5  # variance change
    cur["c2"] = np.nan  # a column of nulls
    cur.loc[rng.random(n) < 0.05, "cat"] = "new"  # a new category taking 5%
    rep = compare(Profile.from_data(ref_df), cur)
    assert set(rep.flagged()) == {"c0", "c1", "c2", "cat"}, rep.summary()
    assert rep.features["c0"]["checks"]["wasserstein"] != "ok"
    assert rep.features["c1"]["checks"]["wasserstein"] == "fail"
    assert rep.features["c2"]["checks"]["null_rate_increase"] == "fail"
    assert rep.features["cat"]["checks"]["unseen_share"] != "ok"
    assert not rep.passed
    assert rep.dataset["n_drifted"] == 3  # the null column is a quality failure, not drift
    d = rep.to_dict()
    assert d["passed"] is False and d["features"]["c0"]["status"] in ("warn", "fail")
    assert isinstance(d["features"]["c0"]["psi"], float)


def test_dataset_drift_share_and_critical():
    rng = np.random.default_rng(8)
    ref = Profile.from_data(_frame(rng, 20_000, 4))
    cur = _frame(rng, 20_000, 4)
    cur[["c0", "c1"]] += 0.15  # wasserstein warn, psi ok
    rep = compare(ref, cur)
    assert rep.dataset["drift_share"] == 0.5 and rep.dataset["checks"]["drift_share"] == "fail"
    assert not rep.passed
    cur2 = _frame(rng, 20_000, 4)
    cur2["c3"] += 0.15
    assert compare(ref, cur2).passed  # one feature at warn: warnings alone do not fail
    cfg = MonitorConfig.from_toml("[features.c3]\ncritical = true\n")
    rep3 = compare(ref, cur2, cfg)
    assert not rep3.passed and rep3.dataset["critical_drifted"] == ["c3"]


def test_ks_gate_bonferroni():
    rng = np.random.default_rng(9)
    ref = Profile.from_data(_frame(rng, 100_000, 5))
    cur = _frame(rng, 100_000, 5)
    cur["c4"] += 0.05
    assert compare(ref, cur).passed  # KS is only reported by default
    rep = compare(ref, cur, {"dataset": {"ks_alpha": 0.05}})
    assert rep.features["c4"]["checks"]["ks"] == "fail"
    assert rep.features["c4"]["ks_threshold"] == pytest.approx(0.01)
    assert [n for n, f in rep.features.items() if f["checks"].get("ks") == "fail"] == ["c4"]


# ---------------------------------------------------------------------------- schema
def test_schema_mismatches_fail_naming_the_column():
    rng = np.random.default_rng(10)
    df = _frame(rng, 5000, 3)
    df["s"] = rng.choice(["x", "y"], 5000)
    ref = Profile.from_data(df)
    cur = df.drop(columns=["c1"]).assign(s=rng.integers(0, 2, 5000), extra=1.0)
    rep = compare(ref, cur)
    assert not rep.passed
    assert rep.features["c1"]["status"] == "fail" and "missing" in rep.features["c1"]["schema"]
    assert rep.features["s"]["status"] == "fail" and "dtype changed" in rep.features["s"]["schema"]
    assert rep.dataset["missing_columns"] == ["c1"]
    assert rep.dataset["unexpected_columns"] == ["extra"]
    assert "c1" in rep.summary() and "s" in rep.summary()
    json.loads(rep.to_json())


def test_unexpected_columns_are_named_for_every_table_kind():
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(11)
    df = _frame(rng, 2000, 2)
    ref = Profile.from_data(df)
    cur = df.assign(extra=1.0)
    for data in (cur, pa.Table.from_pandas(cur, preserve_index=False)):
        rep = compare(ref, data)
        assert rep.dataset["unexpected_columns"] == ["extra"], type(data)


def test_row_count_and_empty_batch():
    rng = np.random.default_rng(12)
    ref = Profile.from_data(_frame(rng, 5000, 2))
    rep = compare(ref, _frame(rng, 100, 2), {"dataset": {"expected_rows": 5000}})
    assert rep.dataset["checks"]["row_count"] == "fail" and not rep.passed
    rep0 = compare(ref, _frame(rng, 0, 2))
    assert rep0.dataset["checks"]["row_count"] == "fail" and not rep0.passed


# ---------------------------------------------------------------------------- config
def test_toml_config_and_validation(tmp_path):
    path = tmp_path / "monitor.toml"
    path.write_text(
        "[thresholds]\npsi = { warn = 0.2, fail = 0.5 }\n"
        "[dataset]\ndrift_share_fail = 0.3\n"
        "[features.c0]\nwasserstein = { warn = 0.5, fail = 0.9 }\n"
        "[features.c1]\nignore = true\n")
    cfg = MonitorConfig.from_toml(path)
    assert cfg.level("c0", "wasserstein").warn == 0.5 and cfg.level("c5", "psi").fail == 0.5
    assert cfg.drift_share_fail == 0.3
    rng = np.random.default_rng(13)
    ref = Profile.from_data(_frame(rng, 20_000, 3))
    cur = _frame(rng, 20_000, 3)
    cur["c0"] += 0.2
    cur["c1"] += 3.0
    rep = compare(ref, cur, str(path))
    assert "c1" not in rep.features and rep.features["c0"]["status"] == "ok"
    for bad in ("[thresholds]\npsi = 3\n", "[thresholds]\nfoo = {warn=1, fail=2}\n",
                "[dataset]\nnope = 1\n", "[thresholds]\npsi = {warn = 0.5, fail = 0.1}\n",
                "[features.a]\ncritical = 1\n", "[bogus]\n"):
        with pytest.raises(sapwood.ParameterError):
            MonitorConfig.from_toml(bad)


def test_calibrated_thresholds_sit_above_the_noise():
    rng = np.random.default_rng(14)
    df = _frame(rng, 100_000, 3)
    cfg = calibrate(df, n_chunks=10)
    lv = cfg.level("c0", "psi")
    assert 0 < lv.warn < 0.01 and lv.fail > lv.warn
    ref = Profile.from_data(df)
    assert compare(ref, _frame(rng, 10_000, 3), cfg).passed


# ---------------------------------------------------------------------------- boosters
def test_booster_reference_and_prediction_drift():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((5000, 3))
    y = X[:, 0] * 2 + rng.standard_normal(5000) * 0.1
    b = sapwood.train({"n_estimators": 10}, sapwood.Dataset(X, y), reference_profile=False)
    with pytest.raises(sapwood.DataError, match="reference profile"):
        compare(b, X)
    b.reference_profile = profile_for_booster(b, X)
    X2 = rng.standard_normal((5000, 3))
    assert compare(b, X2).passed
    X3 = X2.copy()
    X3[:, 0] += 1.0
    rep = compare(b, X3)
    assert rep.features["__prediction__"]["status"] != "ok"
    assert rep.features["__prediction__"]["is_prediction"]
    assert rep.dataset["n_features"] == 3


# ---------------------------------------------------------------------------- reports
def _report():
    rng = np.random.default_rng(16)
    ref_df = _frame(rng, 5000, 3)
    ref_df["s"] = rng.choice(["x", "y"], 5000)
    cur = _frame(rng, 5000, 3)
    cur["s"] = rng.choice(["x", "y", "z"], 5000)
    cur["c2"] += 1
    return compare(Profile.from_data(ref_df), cur)


def test_report_outputs(tmp_path):
    rep = _report()
    d = rep.to_dict()
    assert set(d) >= {"passed", "dataset", "features"}
    for f in d["features"].values():
        assert f["status"] in ("ok", "warn", "fail") and "psi" in f
    frame = rep.to_frame()
    assert list(frame.index[:2]) == rep.flagged()[:2] and "psi" in frame.columns
    text = rep.to_html(tmp_path / "r.html")
    assert text.count("<svg class=\"hist\"") == 4
    assert text.index("data-feature='c2'") < text.index("data-feature='c0'")
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_opens_in_headless_chromium(tmp_path):
    rep = _report()
    path = tmp_path / "report.html"
    rep.to_html(path)
    out = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         path.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    plots = re.findall(r"<div class=\"feature\" data-feature=\"([^\"]+)\">.*?<svg class=\"hist\"",
                       out, flags=re.S)
    assert sorted(plots) == sorted(rep.features)


# ---------------------------------------------------------------------------- CLI
def test_cli_monitor_exit_codes(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    from sapwood.cli import main

    rng = np.random.default_rng(17)
    ref_df = _frame(rng, 5000, 3)
    prof = tmp_path / "ref.json"
    Profile.from_data(ref_df).save(prof)
    good = tmp_path / "good.parquet"
    _frame(rng, 5000, 3).to_parquet(good)
    bad = tmp_path / "bad.csv"
    _frame(rng, 5000, 3).assign(c1=lambda d: d.c1 + 2).to_csv(bad, index=False)
    out_json = tmp_path / "r.json"
    html = tmp_path / "r.html"
    assert main(["monitor", "--reference", str(prof), "--current", str(good),
                 "--json", str(out_json), "--html", str(html)]) == 0
    assert json.loads(out_json.read_text())["passed"] is True and html.exists()
    assert main(["monitor", "--reference", str(prof), "--current", str(bad),
                 "--json", str(out_json)]) == 1
    assert "c1" in capsys.readouterr().out
    assert main(["monitor", "--reference", str(tmp_path / "nope.json"), "--current",
                 str(good)]) == 2
    assert main(["monitor", "--reference", str(bad), "--current", str(good)]) == 2
    assert math.isfinite(json.loads(out_json.read_text())["features"]["c1"]["psi"])


def test_cli_monitor_current_profile_json(tmp_path):
    """--current also takes a profile JSON counted on the reference's edges; the report is the
    one the data itself gives, and a profile on other edges cannot run (exit 2)."""
    pytest.importorskip("pyarrow")
    from sapwood.cli import main

    rng = np.random.default_rng(23)
    ref_df = _frame(rng, 4000, 3)
    ref = Profile.from_data(ref_df)
    prof = tmp_path / "ref.json"
    ref.save(prof)
    cur_df = _frame(rng, 3000, 3).assign(c1=lambda d: d.c1 + 2)
    data = tmp_path / "cur.parquet"
    cur_df.to_parquet(data)
    cur_prof = tmp_path / "cur_profile.json"
    Profile.from_data(cur_df, edges_from=ref).to_json(cur_prof)
    from_data, from_prof = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["monitor", "--reference", str(prof), "--current", str(data),
                 "--json", str(from_data)]) == 1
    assert main(["monitor", "--reference", str(prof), "--current", str(cur_prof),
                 "--json", str(from_prof)]) == 1
    a, b = json.loads(from_data.read_text()), json.loads(from_prof.read_text())
    assert a["features"] == b["features"] and a["passed"] is b["passed"] is False
    assert a["features"]["c1"]["status"] == "fail"
    other = tmp_path / "other_edges.json"
    Profile.from_data(cur_df).to_json(other)  # fitted on its own edges
    assert main(["monitor", "--reference", str(prof), "--current", str(other),
                 "--json", str(tmp_path / "c.json")]) == 2


# ---------------------------------------------------------------------------- small samples
def test_chi2_against_scipy():
    for dof in (1, 2, 3, 7, 30, 200):
        for x in (0.0, 0.01, 0.5, 1.0, dof * 0.7, dof, dof + 3.0, dof * 2.5, 400.0):
            assert mst.chi2_sf(x, dof) == pytest.approx(sps.chi2.sf(x, dof), rel=1e-9, abs=1e-300)
    rng = np.random.default_rng(5)
    for _ in range(20):
        k = int(rng.integers(2, 12))
        r, c = rng.integers(0, 60, k), rng.integers(0, 40, k)
        r[0] += 1
        c[1] += 1
        stat, p = mst.chi2_homogeneity(r, c)
        keep = (r + c) > 0
        want = sps.chi2_contingency(np.vstack([r[keep], c[keep]]), correction=False)
        assert stat == pytest.approx(want[0], rel=1e-9)
        assert p == pytest.approx(want[1], rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_small_batches_of_unchanged_data_do_not_fail(seed):
    """PSI on deciles averages ~9 (1/n + 1/m) on unchanged data: at a few hundred rows the
    distances alone would flag most columns; the tests gate instead."""
    rng = np.random.default_rng(seed)
    ref_df = _frame(rng, 400, 20).assign(s=rng.choice(list("abcd"), 400))
    cur_df = _frame(rng, 150, 20).assign(s=rng.choice(list("abcd"), 150))
    ref = Profile.from_data(ref_df)
    rep = compare(ref, cur_df)
    assert rep.passed, rep.summary()
    assert rep.dataset["n_drifted"] == 0
    assert set(rep.dataset["small_sample_features"]) == set(ref_df.columns)
    # the distances alone (the big-data rule) would have failed the report
    big_rule = compare(ref, cur_df, MonitorConfig.from_dict({"dataset": {"small_sample_rows": 0}}))
    assert not big_rule.passed


def test_small_batches_still_catch_real_shifts():
    rng = np.random.default_rng(9)
    ref_df = _frame(rng, 400, 5).assign(s=rng.choice(list("abcd"), 400, p=[.4, .3, .2, .1]))
    cur_df = _frame(rng, 150, 5).assign(s=rng.choice(list("abcd"), 150, p=[.1, .2, .3, .4]))
    cur_df["c1"] += 1.0  # one standard deviation
    rep = compare(Profile.from_data(ref_df), cur_df)
    assert not rep.passed
    assert rep.features["c1"]["status"] == "fail" and rep.features["c1"]["checks"]["ks"] == "fail"
    assert rep.features["s"]["status"] == "fail" and rep.features["s"]["checks"]["chi2"] == "fail"
    assert sorted(rep.dataset["drifted_features"]) == ["c1", "s"]
    assert rep.features["c1"]["ks_threshold"] == pytest.approx(0.05 / 6)


def test_small_sample_config_keys():
    cfg = MonitorConfig.from_dict({"dataset": {"small_sample_rows": 50,
                                               "small_sample_alpha": 0.01}})
    assert cfg.small_sample_rows == 50 and cfg.small_sample_alpha == 0.01
    assert MonitorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(sapwood.ParameterError, match="small_sample_rows"):
        MonitorConfig.from_dict({"dataset": {"small_sample_rows": -1}})
    with pytest.raises(sapwood.ParameterError, match="small_sample_alpha"):
        MonitorConfig.from_dict({"dataset": {"small_sample_alpha": 2}})
