"""sapwood inspect: summary of a model file, as text and JSON; exit code 2 on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sapwood
from sapwood.cli import main

SAMPLE = Path(__file__).parent.parent / "data" / "sample_binary_v1.sapwood"


def test_inspect_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(SAMPLE), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "format version 1" in out
    assert "objective       binary" in out
    assert "feature importance" in out
    assert out.count("%") == 3


def test_inspect_json_matches_the_booster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(SAMPLE), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    b = sapwood.load(SAMPLE)
    assert s["file"]["bytes"] == SAMPLE.stat().st_size
    assert s["model"]["trees"] == b.num_trees
    assert s["trees"]["nodes"] == sum(t["feature"].size for t in b.trees())
    gain = b.feature_importance("gain")
    top = s["importance"][0]
    assert top["feature"] == b.feature_names[int(np.argmax(gain))]
    assert sum(r["gain_share"] for r in s["importance"]) == pytest.approx(1.0)
    assert s["provenance"]["data_fingerprint"]["rows"] == 300
    assert s["tags"]["purpose"] == "format sample"


def test_inspect_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.sapwood"
    bad.write_bytes(SAMPLE.read_bytes()[:-5])
    assert main(["inspect", str(bad)]) == 2
    assert "truncated" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing.sapwood")]) == 2
