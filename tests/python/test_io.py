"""The model file: exact round trips, stored samples of every format version, validation."""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import sapwood
from sapwood.model.format import FORMAT_VERSION, MAGIC

DATA = Path(__file__).parent.parent / "data"


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


@pytest.fixture(scope="module")
def binary() -> tuple[sapwood.Booster, np.ndarray]:
    X, y = _data()
    ds = sapwood.Dataset(X, y)
    b = sapwood.train({"objective": "binary", "n_estimators": 30, "num_leaves": 8},
                      ds, valid_sets=[ds], callbacks=[sapwood.EarlyStopping(3)])
    return b, X


def _resign(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


def _with_meta(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    """Rewrite the metadata JSON with edit(meta) and fix sizes and checksum."""
    _, ver, flags, ml, dl = struct.unpack_from("<8sIIQQ", data, 0)
    pad = (-(32 + ml)) % 8
    meta = json.loads(data[32:32 + ml])
    edit(meta)
    mb = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    section = data[32 + ml + pad:32 + ml + pad + dl]
    npad = (-(32 + len(mb))) % 8
    body = struct.pack("<8sIIQQ", MAGIC, ver, flags, len(mb), dl) + mb + b"\0" * npad + section
    return _resign(body)


def test_round_trip_is_exact(binary, tmp_path: Path) -> None:
    b, X = binary
    b.tags = {"owner": "risk-team", "ticket": 42, "nested": {"xs": [1.5, None, True]}}
    raw = b.to_bytes()
    assert raw.startswith(MAGIC)
    b2 = sapwood.Booster.from_bytes(raw)
    np.testing.assert_array_equal(b.predict(X), b2.predict(X))
    np.testing.assert_array_equal(b.predict(X, output="raw"), b2.predict(X, output="raw"))
    np.testing.assert_array_equal(b.predict(X, output="leaf"), b2.predict(X, output="leaf"))
    assert b2.to_bytes() == raw  # re-saving gives the same bytes
    path = tmp_path / "m.sapwood"
    b.save(path)
    assert path.read_bytes() == raw
    b3 = sapwood.load(path)
    assert b3.tags == b.tags
    assert b3.best_iteration == b.best_iteration
    assert b3.evals_result == b.evals_result
    assert b3.best_score == b.best_score
    assert b3.feature_names == b.feature_names
    for e1, e2 in zip(b.bin_edges, b3.bin_edges, strict=True):
        np.testing.assert_array_equal(e1, e2)
    prov = b3.provenance
    assert prov["library_version"] == sapwood.__version__
    assert prov["created_at"].endswith("Z")
    fp = prov["data_fingerprint"]
    assert fp["rows"] == X.shape[0] and fp["columns"] == X.shape[1]


def test_multiclass_and_regression_round_trip() -> None:
    X, y = _data(400, 1)
    for params, yy in (({"objective": "multiclass", "num_class": 3}, np.digitize(X[:, 1], [-.5, .5])),
                       ({"objective": "regression"}, np.nan_to_num(X[:, 0]) * 2)):
        b = sapwood.train({**params, "n_estimators": 8}, sapwood.Dataset(X, yy))
        raw = b.to_bytes()
        b2 = sapwood.Booster.from_bytes(raw)
        np.testing.assert_array_equal(b.predict(X), b2.predict(X))
        assert b2.to_bytes() == raw


def test_same_data_same_fingerprint_and_bytes(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    X, y = _data()
    runs = []
    for n_jobs, Xv in ((1, X), (2, np.asfortranarray(X)), (1, X.astype(np.float32))):
        b = sapwood.train({"objective": "binary", "n_estimators": 5, "n_jobs": n_jobs},
                          sapwood.Dataset(Xv, y))
        runs.append(b)
    assert runs[0].provenance["created_at"] == "2023-11-14T22:13:20Z"
    # fingerprint hashes float32 columns: layout and float width do not change it
    assert len({r.provenance["data_fingerprint"]["digest"] for r in runs}) == 1
    assert runs[0].to_bytes() == runs[1].to_bytes()  # any thread count: the same file
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    b = sapwood.train({"objective": "binary", "n_estimators": 5}, sapwood.Dataset(X, y2))
    assert b.provenance["data_fingerprint"] != runs[0].provenance["data_fingerprint"]


def test_pickle_and_sklearn_clone_go_through_model_bytes() -> None:
    X, y = _data()
    clf = sapwood.GBMClassifier(n_estimators=10).fit(X, y)
    state = clf.booster_.__getstate__()
    assert set(state) == {"sapwood_model"} and state["sapwood_model"].startswith(MAGIC)
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), clf2.predict_proba(X))
    b2 = pickle.loads(pickle.dumps(clf.booster_))
    assert b2.to_bytes() == clf.booster_.to_bytes()
    from sklearn.base import clone

    assert clone(clf).get_params() == clf.get_params()


def test_optional_tree_fields_and_extra_round_trip(binary) -> None:
    b, X = binary
    b = sapwood.Booster.from_bytes(b.to_bytes())
    # a later predictor may add optional per-tree arrays (e.g. categorical bitsets)
    b._trees[0]["cat_bitset"] = np.arange(7, dtype=np.uint32)
    b.extra = {"profile": {"counts": np.ones((3, 2), dtype=np.int64), "note": "x",
                           "score": float("inf")}}
    raw = b.to_bytes()
    b2 = sapwood.Booster.from_bytes(raw)
    np.testing.assert_array_equal(b2._trees[0]["cat_bitset"], np.arange(7, dtype=np.uint32))
    assert b2.extra["profile"]["counts"].shape == (3, 2)
    assert b2.extra["profile"]["score"] == float("inf")
    assert b2.to_bytes() == raw
    np.testing.assert_array_equal(b.predict(X), b2.predict(X))


def test_unstorable_values_are_parameter_errors(binary) -> None:
    b = sapwood.Booster.from_bytes(binary[0].to_bytes())
    b.tags = {"f": object()}
    with pytest.raises(sapwood.ParameterError, match="tags.f"):
        b.to_bytes()
    b.tags = {1: "x"}  # type: ignore[dict-item]
    with pytest.raises(sapwood.ParameterError, match="keys must be strings"):
        b.to_bytes()
    b.tags = {"a": {"$block": 0}}
    with pytest.raises(sapwood.ParameterError, match="reserved"):
        b.to_bytes()


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_stored_sample_files_load_with_same_predictions(kind: str) -> None:
    files = sorted(DATA.glob(f"sample_{kind}_v*.sapwood"))
    assert files, "no stored sample model files"
    versions = set()
    for f in files:
        v = f.stem.rsplit("_v", 1)[1]
        versions.add(int(v))
        X = np.load(DATA / f"sample_X_v{v}.npy")
        expected = np.load(DATA / f"sample_{kind}_v{v}_pred.npy")
        b = sapwood.load(f)
        np.testing.assert_array_equal(b.predict(X), expected)
        assert b.tags["purpose"] == "format sample"
        if int(v) == FORMAT_VERSION:
            assert b.to_bytes() == f.read_bytes()
    assert FORMAT_VERSION in versions, "store a sample of the current format version"


def test_newer_format_version_names_the_version(binary) -> None:
    raw = bytearray(binary[0].to_bytes())
    struct.pack_into("<I", raw, 8, FORMAT_VERSION + 1)
    with pytest.raises(sapwood.ModelFormatError, match=f"format version {FORMAT_VERSION + 1}"):
        sapwood.Booster.from_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: b"PK\x03\x04" + d[4:], "bad magic"),
        (lambda d: d[:20], "truncated"),
        (lambda d: d[:-1], "truncated"),
        (lambda d: d + b"\0", "trailing bytes"),
        (lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:], "checksum"),
        (lambda d: b"", "bad magic"),
    ],
)
def test_container_damage(binary, mutate, match: str) -> None:
    with pytest.raises(sapwood.ModelFormatError, match=match):
        sapwood.Booster.from_bytes(mutate(binary[0].to_bytes()))


def _set(path: list, value):  # type: ignore[no-untyped-def]
    def edit(meta: dict) -> None:  # type: ignore[type-arg]
        d = meta
        for k in path[:-1]:
            d = d[k]
        if value is KeyError:
            del d[path[-1]]
        else:
            d[path[-1]] = value
    return edit


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (["model", "objective"], "no_such_objective", "model.objective"),
        (["model", "params", "tweedie_variance_power"], 2.5, "tweedie_variance_power"),
        (["model", "num_class"], 3, "model.num_class"),
        (["model", "num_features"], 99, "model.num_features"),
        (["model", "feature_names"], KeyError, "model.feature_names' is missing"),
        (["model", "init_score"], {"$block": 10**9}, "block reference"),
        (["model", "init_score"], [0.0], "model.init_score"),
        (["model", "best_iteration"], 10**6, "model.best_iteration"),
        (["model", "trees", 0, "output"], 1, r"model.trees\[0\].output"),
        (["model", "trees", 0, "arrays", "left"], KeyError, "left' is missing"),
        (["blocks", 0, "dtype"], "<c16", r"blocks\[0\].dtype"),
        (["blocks", 0, "dtype"], "O", r"blocks\[0\].dtype"),
        (["blocks", 0, "offset"], 10**12, r"blocks\[0\]"),
        (["blocks", 0, "offset"], 3, r"blocks\[0\].offset"),
        (["blocks", 0, "nbytes"], 8, r"blocks\[0\].nbytes"),
        (["blocks", 0, "shape"], [-1], r"blocks\[0\].shape"),
        (["blocks"], {}, "'blocks' must be a list"),
        (["model", "tags"], [], "model.tags"),
        (["model", "params", "n_jobs"], "many", "model.params.n_jobs"),
        (["model", "provenance", "created_at"], 5, "created_at"),
    ],
)
def test_metadata_faults_name_the_field(binary, path, value, match: str) -> None:
    raw = _with_meta(binary[0].to_bytes(), _set(path, value))
    with pytest.raises(sapwood.ModelFormatError, match=match):
        sapwood.Booster.from_bytes(raw)


def _tree_block(meta: dict, field: str) -> int:  # type: ignore[type-arg]
    return int(meta["model"]["trees"][0]["arrays"][field]["$block"])


def test_wrong_dtype_and_bad_structure_are_caught(binary) -> None:
    raw = binary[0].to_bytes()
    meta = json.loads(raw[32:32 + struct.unpack_from("<Q", raw, 16)[0]])
    # declare the feature block as float32 (same size): the dtype check names the field
    i = _tree_block(meta, "feature")
    bad = _with_meta(raw, _set(["blocks", i, "dtype"], "<f4"))
    with pytest.raises(sapwood.ModelFormatError, match=r"trees\[0\].arrays.feature"):
        sapwood.Booster.from_bytes(bad)
    # point a tree's 'left' at its 'right' block: the C++ structure check rejects it
    right = _tree_block(meta, "right")
    bad = _with_meta(raw, lambda m: m["model"]["trees"][0]["arrays"].update(
        left={"$block": right}))
    with pytest.raises(sapwood.ModelFormatError, match="model.trees"):
        sapwood.Booster.from_bytes(bad)


def test_non_json_and_deep_nesting(binary) -> None:
    raw = binary[0].to_bytes()
    deep = b"[" * 100_000 + b"]" * 100_000
    body = struct.pack("<8sIIQQ", MAGIC, FORMAT_VERSION, 0, len(deep), 0) + deep
    body += b"\0" * ((-len(body)) % 8)
    with pytest.raises(sapwood.ModelFormatError):
        sapwood.Booster.from_bytes(_resign(body))
    nan_meta = b'{"blocks":[],"model":NaN}'
    body = struct.pack("<8sIIQQ", MAGIC, FORMAT_VERSION, 0, len(nan_meta), 0) + nan_meta
    body += b"\0" * ((-len(body)) % 8)
    with pytest.raises(sapwood.ModelFormatError, match="JSON"):
        sapwood.Booster.from_bytes(_resign(body))
    assert raw  # the fixture stays valid


def test_node_arrays_of_other_widths_load_when_exact(binary) -> None:
    b, X = binary
    b = sapwood.Booster.from_bytes(b.to_bytes())
    b._trees[0]["default_left"] = b._trees[0]["default_left"].astype(bool)
    b._trees[0]["feature"] = b._trees[0]["feature"].astype(np.int64)
    raw = b.to_bytes()
    b2 = sapwood.Booster.from_bytes(raw)
    assert b2.to_bytes() == raw
    np.testing.assert_array_equal(b.predict(X), b2.predict(X))
    b._trees[0]["feature"][0] = 2**32  # would wrap to 0 as int32: rejected
    with pytest.raises(sapwood.ModelFormatError, match=r"trees\[0\].arrays.feature"):
        sapwood.Booster.from_bytes(b.to_bytes())


def test_empty_booster_round_trips() -> None:
    b = pickle.loads(pickle.dumps(sapwood.Booster()))
    assert b.num_trees == 0 and b.to_bytes() == sapwood.Booster.from_bytes(b.to_bytes()).to_bytes()
