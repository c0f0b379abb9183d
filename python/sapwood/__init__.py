"""sapwood: a compiled-core engine for tabular machine learning.

Train gradient-boosted trees on tabular data, score them fast, and keep the model's
contract (features, bins, metrics) with it.
"""

from . import metrics, monitoring
from ._version import __version__
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
