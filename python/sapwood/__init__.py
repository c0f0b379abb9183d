"""sapwood: a compiled-core engine for tabular machine learning.

Train gradient-boosted trees on tabular data, score them fast, and keep the model's
contract (features, bins, metrics) with it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import metrics
from .booster import Booster
from .callbacks import EarlyStopping, EvaluationLog, MLflowLogger, ProgressBar, TrainingCallback
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
from .sklearn import GBMClassifier, GBMRegressor
from .training import train
from .io import load
from .crossval import CVResult, cv
from .tuning import TuneResult, tune
from . import io
from .profile import Profile
from . import monitoring

try:
    __version__ = version("sapwood")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "SapwoodError",
    "ParameterError",
    "DataError",
    "SchemaError",
    "ModelFormatError",
    "NotFittedError",
    "__version__",
]
