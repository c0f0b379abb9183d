"""sapwood: a compiled-core engine for tabular machine learning.

Train gradient-boosted trees on tabular data, score them fast, and keep the model's
contract (features, bins, metrics) with it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from . import io, metrics, monitoring
from .booster import Booster
from .callbacks import EarlyStopping, EvaluationLog, MLflowLogger, ProgressBar, TrainingCallback
from .crossval import CVResult, cv
from .data import Dataset
from .errors import (
    DataError,
    ModelFormatError,
    NotFittedError,
    ParameterError,
    SapwoodError,
    SchemaError,
)
from .importers import import_model
from .io import load
from .profile import Profile
from .training import train
from .tuning import TuneResult, tune

if TYPE_CHECKING:
    from .sklearn import GBMClassifier, GBMRegressor


def __getattr__(name: str) -> object:
    # The scikit-learn estimators import scikit-learn (and with it scipy and pandas): load them
    # on first use, so that `import sapwood` (the CLI, scoring jobs) stays light.
    if name in ("GBMClassifier", "GBMRegressor"):
        from . import sklearn as _sk

        return getattr(_sk, name)
    raise AttributeError(f"module 'sapwood' has no attribute {name!r}")


try:
    __version__ = version("sapwood")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Booster",
    "metrics",
    "io",
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
    "SapwoodError",
    "ParameterError",
    "DataError",
    "SchemaError",
    "ModelFormatError",
    "NotFittedError",
    "__version__",
]
