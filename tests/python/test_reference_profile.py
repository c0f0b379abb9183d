"""Training stores the reference profile; it survives the model file and drives monitoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sapwood
from conftest import make_classification
from sapwood.monitoring import compare


def test_training_profile_round_trips_and_detects_drift(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = make_classification(20_000, m=5, seed=3, signal=2.0)
    df = pd.DataFrame(X, columns=list("abcde"))
    df["city"] = pd.Categorical(np.where(X[:, 0] > 0, "north", "south"))
    b = sapwood.train({"objective": "binary", "n_estimators": 20, "n_jobs": 2},
                      sapwood.Dataset(df, y))
    prof = b.reference_profile
    assert prof is not None
    assert set(prof.column_names) >= {"a", "e", "city", "__prediction__"}
    assert prof.num_rows == 20_000
    # the prediction profile holds the model's own training predictions
    pred = b.predict(df)
    assert prof.columns["__prediction__"].mean == pytest_approx(pred.mean())
    path = tmp_path / "m.sapwood"
    b.save(path)
    loaded = sapwood.load(path)
    assert loaded.reference_profile.to_dict() == prof.to_dict()
    assert loaded.to_bytes() == b.to_bytes()
    # unchanged data passes, a shifted column fails
    same = compare(loaded, df.iloc[:10_000])
    assert same.passed, same.to_dict()["features"]
    shifted = df.iloc[:10_000].copy()
    shifted["b"] = shifted["b"] + 1.0
    rep = compare(loaded, shifted)
    assert not rep.passed and rep.to_dict()["features"]["b"]["status"] == "fail"


def pytest_approx(v: float) -> object:
    import pytest

    return pytest.approx(v, rel=1e-9, abs=1e-12)


def test_profile_can_be_turned_off() -> None:
    X, y = make_classification(500, seed=4)
    b = sapwood.train({"n_estimators": 2}, sapwood.Dataset(X, y), reference_profile=False)
    assert b.reference_profile is None
