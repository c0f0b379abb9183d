"""sapwood: a compiled-core engine for tabular machine learning.

Train gradient-boosted trees on tabular data, score them fast, and keep the model's
contract (features, bins, metrics) with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from .train.sklearn import GBMClassifier, GBMRegressor


def __getattr__(name: str) -> object:
    # The scikit-learn estimators import scikit-learn (and with it scipy and pandas): load them
    # on first use, so that `import sapwood` (the CLI, scoring jobs) stays light.
    if name in ("GBMClassifier", "GBMRegressor"):
        from .train import sklearn as _sk

        return getattr(_sk, name)
    raise AttributeError(f"module 'sapwood' has no attribute {name!r}")


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
