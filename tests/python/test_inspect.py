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


def test_inspect_says_where_an_imported_model_came_from(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # issue 13 defect 7: imported models printed "created None with sapwood None"
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(float)
    bst = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4},
                    lgb.Dataset(X, y), num_boost_round=3)
    path = tmp_path / "model.txt"
    path.write_text(bst.model_to_string())
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "None" not in out.split("created", 1)[1].splitlines()[0]
    assert "imported from LightGBM text" in out
    assert "objective binary" in out and "LightGBM v" in out
    assert main(["inspect", str(path), "--json"]) == 0
    prov = json.loads(capsys.readouterr().out)["provenance"]
    assert prov["imported_from"] == "lightgbm-text" and prov["source_objective"] == "binary"
    # the imported model saves and re-loads with its provenance
    b = sapwood.import_model(path)
    again = sapwood.Booster.from_bytes(b.to_bytes())
    assert again.provenance["imported_from"] == "lightgbm-text"


def test_inspect_an_unknown_provenance_says_so() -> None:
    from sapwood.model.provenance import describe

    assert "None" not in describe({})
    assert describe({"created_at": "2024-01-01T00:00:00Z", "library_version": "1.2"}) == \
        "2024-01-01T00:00:00Z with sapwood 1.2"


def _stump(**override: np.ndarray) -> dict[str, np.ndarray]:
    t = {
        "feature": np.array([1, -1, -1], np.int32),
        "threshold": np.array([0.5, 0, 0], np.float32),
        "default_left": np.array([1, 0, 0], np.uint8),
        "left": np.array([1, -1, -1], np.int32),
        "right": np.array([2, -1, -1], np.int32),
        "value": np.array([0.0, -1.0, 1.0]),
    }
    t.update(override)
    return t


@pytest.mark.parametrize("tree", [
    _stump(),  # no optional gain / hess / count arrays
    _stump(feature=np.array([1, 0xFFFFFFFF, 0xFFFFFFFF], np.uint32)),  # leaves as uint32 -1
], ids=["no-gain", "uint32-feature"])
def test_inspect_reads_every_file_load_accepts(tmp_path: Path, tree: dict[str, np.ndarray],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # issue 14 item 14: KeyError (no gain) and IndexError (uint32 leaves) in inspect
    from sapwood.model import Booster, ModelBuilder

    mb = ModelBuilder("regression", feature_names=["a", "b"], init_score=[0.5])
    mb.add_tree(tree)
    path = tmp_path / "m.sapwood"
    Booster.from_builder(mb).save(path)
    b = sapwood.load(path)
    np.testing.assert_allclose(b.predict(np.array([[0.0, 0.0], [0.0, 1.0]])), [-0.5, 1.5])
    assert main(["inspect", str(path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["trees"] == {"nodes": 3, "leaves": 2, "leaves_per_tree": {"min": 2, "mean": 2.0,
                                                                      "max": 2},
                          "depth": {"min": 1, "max": 1}}
    assert [r["splits"] for r in s["importance"]] == [1, 0]
    assert main(["inspect", str(path)]) == 0
