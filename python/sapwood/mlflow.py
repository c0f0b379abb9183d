"""The MLflow flavor: ``sapwood.mlflow.log_model`` / ``save_model`` / ``load_model``, and a
pyfunc flavor so that ``mlflow.pyfunc.load_model`` and ``mlflow models serve`` score sapwood
models.

The artifact holds the model file as :meth:`Booster.save` writes it (``model.sapwood``: no
pickle, checksummed), an ``MLmodel`` with the ``sapwood`` and ``python_function`` flavors,
and the input signature taken from the model's schema (numeric features as the training
column's type, ``long``, ``float`` or ``double``; bool as ``boolean``; categorical features
with string categories as ``string``), with an optional
``output`` parameter ("value", "raw" or "contrib"). Needs the ``mlflow`` extra.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any

from ._compat import require
from .errors import ParameterError

__all__ = ["FLAVOR_NAME", "save_model", "log_model", "load_model", "model_signature"]

FLAVOR_NAME = "sapwood"
_MODEL_FILE = "model.sapwood"
_OUTPUTS = ("value", "raw", "contrib")


def _mlflow() -> Any:
    return require("mlflow", "the MLflow flavor")


def model_signature(booster: Any) -> Any:
    """An ``mlflow.models.ModelSignature`` from the Booster's schema: one named column per
    feature, the prediction's shape, and the ``output`` parameter."""
    _mlflow()
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

    from .serve.inputs import features_of  # plain schema reading; no server dependency

    schema = {s["name"]: s for s in (booster.schema or [])}
    cols: list[Any] = []
    for f in features_of(booster):
        kind = schema.get(f.name, {}).get("kind")
        if f.categorical and (f.string_categories or f.categories is None
                              and kind == "categorical"):
            cols.append(ColSpec("string", f.name))
        elif kind == "bool":
            cols.append(ColSpec("boolean", f.name))
        else:
            # the training column's type: MLflow refuses to cast int64 to double
            dtype = str(schema.get(f.name, {}).get("dtype", "float64")).lower()
            cols.append(ColSpec("long" if dtype.startswith(("int", "uint")) else
                                "float" if dtype == "float32" else "double", f.name))
    import numpy as np

    if booster.num_outputs > 1:
        outputs = Schema([TensorSpec(np.dtype(np.float64), (-1, booster.num_outputs))])
    else:
        outputs = Schema([ColSpec("double")])
    params = ParamSchema([ParamSpec("output", "string", "value")])
    return ModelSignature(inputs=Schema(cols), outputs=outputs, params=params)


def _write_environment(path: str, pip_requirements: list[str] | None,
                       extra_pip_requirements: list[str] | None) -> None:
    from . import __version__

    reqs = list(pip_requirements) if pip_requirements is not None else [
        f"sapwood=={__version__}", "numpy", "pandas", "mlflow"]
    reqs += list(extra_pip_requirements or [])
    with open(os.path.join(path, "requirements.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(reqs) + "\n")
    py = ".".join(map(str, sys.version_info[:3]))
    with open(os.path.join(path, "python_env.yaml"), "w", encoding="utf-8") as f:
        f.write(f"python: {py}\nbuild_dependencies:\n  - pip\ndependencies:\n"
                "  - -r requirements.txt\n")
    with open(os.path.join(path, "conda.yaml"), "w", encoding="utf-8") as f:
        f.write("name: mlflow-env\nchannels:\n  - conda-forge\ndependencies:\n"
                f"  - python={py}\n  - pip\n  - pip:\n"
                + "".join(f"    - {r}\n" for r in reqs))


def save_model(booster: Any, path: str | os.PathLike[str], *, mlflow_model: Any = None,
               signature: Any = None, input_example: Any = None,
               pip_requirements: list[str] | None = None,
               extra_pip_requirements: list[str] | None = None, metadata: Any = None,
               **kwargs: Any) -> None:
    """Save ``booster`` as an MLflow model folder at ``path`` (which must not exist).

    signature: defaults to :func:`model_signature` (from the model's schema).
    """
    _mlflow()
    from mlflow.models import Model

    from . import __version__
    from .model.booster import Booster

    if not isinstance(booster, Booster):
        raise ParameterError(f"booster must be a sapwood.Booster, got {type(booster)!r}")
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and os.listdir(path):
        raise ParameterError(f"{path} already exists and is not empty")
    os.makedirs(path, exist_ok=True)
    mlflow_model = mlflow_model if mlflow_model is not None else Model()
    mlflow_model.signature = signature if signature is not None else model_signature(booster)
    if metadata is not None:
        mlflow_model.metadata = metadata
    if input_example is not None:
        from mlflow.models.utils import _save_example

        _save_example(mlflow_model, input_example, path)
    booster.save(os.path.join(path, _MODEL_FILE))
    _write_environment(path, pip_requirements, extra_pip_requirements)
    pyfunc = require("mlflow.pyfunc", "the MLflow flavor")
    pyfunc.add_to_model(mlflow_model, loader_module="sapwood.mlflow", data=_MODEL_FILE,
                        conda_env="conda.yaml", python_env="python_env.yaml")
    mlflow_model.add_flavor(FLAVOR_NAME, model_file=_MODEL_FILE, sapwood_version=__version__,
                            objective=booster.objective, num_class=booster.num_class)
    mlflow_model.save(os.path.join(path, "MLmodel"))


def log_model(booster: Any, name: str = "model", *, signature: Any = None,
              input_example: Any = None, registered_model_name: str | None = None,
              pip_requirements: list[str] | None = None,
              extra_pip_requirements: list[str] | None = None, metadata: Any = None,
              **kwargs: Any) -> Any:
    """Log ``booster`` to the active MLflow run (one is started if none is active) under
    ``name``; returns MLflow's ``ModelInfo`` (``.model_uri`` loads it back)."""
    _mlflow()
    from mlflow.models import Model

    import sapwood.mlflow as flavor

    # MLflow 3 names the model (artifact_path is deprecated there); MLflow 2 has only the path
    where = ({"artifact_path": None, "name": name}
             if "name" in inspect.signature(Model.log).parameters
             else {"artifact_path": name})
    return Model.log(flavor=flavor, booster=booster, signature=signature,
                     input_example=input_example, registered_model_name=registered_model_name,
                     pip_requirements=pip_requirements,
                     extra_pip_requirements=extra_pip_requirements, metadata=metadata,
                     **where, **kwargs)


def _local_model_dir(model_uri: str, dst_path: str | None) -> str:
    mlflow = _mlflow()
    local = str(mlflow.artifacts.download_artifacts(artifact_uri=str(model_uri),
                                                    dst_path=dst_path))
    return local


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The :class:`sapwood.Booster` logged at ``model_uri`` (``runs:/...``, ``models:/...``,
    a path)."""
    from mlflow.models import Model

    from .model.io import load

    local = _local_model_dir(model_uri, dst_path)
    conf = Model.load(os.path.join(local, "MLmodel")).flavors.get(FLAVOR_NAME)
    if conf is None:
        raise ParameterError(f"{model_uri} has no {FLAVOR_NAME!r} flavor")
    return load(os.path.join(local, conf.get("model_file", _MODEL_FILE)))


class _PyFuncModel:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(frame, params={"output": ...})``."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def get_raw_model(self) -> Any:
        return self.booster

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        output = (params or {}).get("output") or "value"
        if output not in _OUTPUTS:
            raise ParameterError(f"output must be one of {_OUTPUTS}, got {output!r}")
        return self.booster.predict(model_input, output=output)


def _load_pyfunc(path: str) -> _PyFuncModel:
    """The pyfunc loader (MLflow calls it with the model file's local path)."""
    from .model.io import load

    if os.path.isdir(path):
        path = os.path.join(path, _MODEL_FILE)
    return _PyFuncModel(load(path))
