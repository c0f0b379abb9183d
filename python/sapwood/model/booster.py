"""The trained model: trees, bin edges, feature names and the objective's link."""

from __future__ import annotations

import os
import warnings
from typing import Any, Generic, Literal, TypeVar, overload

import numpy as np

from .. import _core
from .._params import resolve_n_jobs
from ..errors import (
    DataError,
    ModelFormatError,
    NotFittedError,
    ParameterError,
    SapwoodError,
    SchemaError,
)
from ..frame.categorical import FeatureSpec
from ..frame.columns import encode_category_codes, encode_for_schema, to_matrix
from ..frame.columns import is_pandas_frame as _is_pandas_frame
from . import serialize as _serialize
from .builder import ModelBuilder
from .tree import Tree, check_tree_arrays

__all__ = ["Booster", "ModelBuilder", "Tree"]

Output = Literal["value", "raw", "leaf", "contrib"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


_T = TypeVar("_T")


class _ScorerSetting(Generic[_T]):
    """A Booster attribute that predict's cached scorers are made for: setting it drops them
    (Booster._scorers), so a one-row predict checks one attribute instead of comparing these."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = "_" + name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _ScorerSetting[_T]: ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self._slot]

    def __set__(self, obj: object, value: _T) -> None:
        obj.__dict__[self._slot] = value
        obj.__dict__["_scorers"] = None


class Booster:
    """A gradient-boosted tree ensemble.

    Built by :func:`sapwood.train` (or the estimators), read from a model file
    (:meth:`load`), imported (:func:`sapwood.import_model`) or made from trees with a
    :class:`~sapwood.model.builder.ModelBuilder` (:meth:`from_builder`). Its trees are read
    through :meth:`trees` / :meth:`tree` (read-only :class:`~sapwood.model.tree.Tree` views).
    ``predict`` is thread-safe: many Python threads may score with one Booster at once (the
    GIL is released while scoring).
    """

    def __init__(self) -> None:
        # predict's value / raw scorers (their predict methods) for the default trees (see
        # _scorers_now); None when the packed forest, best_iteration, objective, num_class or
        # init_score change (their setters clear it), so a one-row predict checks one attribute
        # instead of five
        self._scorers: tuple[Any, Any] | None = None
        self._trees: list[dict[str, np.ndarray]] = []
        self._tree_output: list[int] = []
        self.objective = "regression"
        self.num_class = 1
        self.init_score = np.zeros(1)
        self.feature_names: list[str] = []
        self.bin_edges: list[np.ndarray] = []
        self.params: dict[str, Any] = {}
        self.best_iteration = None
        self.best_score: dict[str, dict[str, float]] = {}
        self.evals_result: dict[str, dict[str, list[float]]] = {}
        # library_version, created_at, data_fingerprint (set by train(), kept by save/load)
        self.provenance: dict[str, Any] = {}
        # free-form user tags (JSON-like values), stored in the model file
        self.tags: dict[str, Any] = {}
        # further sections (JSON-like values and numpy arrays), stored generically
        self.extra: dict[str, Any] = {}
        self._forest: Any = None
        # LightGBM's category lists of the pandas categorical columns (imported models only).
        self.pandas_categorical: list[list[Any]] | None = None
        # Imported LightGBM models: the features pandas_categorical's lists belong to, in order
        # (lets Arrow / polars tables and files map categories by value, as pandas frames do).
        self.pandas_categorical_features: list[str] | None = None
        # Imported XGBoost models: categorical features, read as category codes as XGBoost
        # does (a pandas category column's codes, or the numbers given; see
        # sapwood.data._Column.category_codes).
        self.category_code_features: list[str] | None = None
        self._threads: int | None = None  # resolved n_jobs, cached: predict is called per row
        # The training data's schema (sapwood.data): one plain dict per feature with name,
        # position, kind ("numeric" | "bool" | "categorical"), dtype and, for categorical
        # features, "categories" (the values in code order). None for imported models.
        self.schema: list[FeatureSpec] | None = None
        # The training data's monitoring profile (sapwood.Profile), set by train().
        self.reference_profile: Any = None
        self._fast_numpy = False  # numpy floats may go straight to the forest (no categoricals)
        self._forest_outputs = 1  # the packed forest's outputs (a C++ property read per call)
        # (packed forest, its device copy) for device="cuda" (sapwood.model.gpu); not state
        self._cuda: tuple[Any, Any] | None = None

    # Model settings predict's scorers are made for: setting one drops the scorers.
    objective: _ScorerSetting[str] = _ScorerSetting()
    num_class: _ScorerSetting[int] = _ScorerSetting()
    init_score: _ScorerSetting[np.ndarray] = _ScorerSetting()
    best_iteration: _ScorerSetting[int | None] = _ScorerSetting()

    # ------------------------------------------------------------------ building
    @classmethod
    def from_builder(cls, builder: ModelBuilder, *, check: bool = True) -> Booster:
        """The Booster a :class:`ModelBuilder` describes. With ``check`` (the default) the
        trees are packed at once, so that a bad structure (child indices, cycles, features out
        of range) raises :class:`sapwood.ModelFormatError` here rather than at predict."""
        builder.check()
        b = cls()
        b.objective, b.num_class = builder.objective, builder.num_class
        b.init_score = np.asarray(builder.init_score, dtype=np.float64)
        b.feature_names = list(builder.feature_names)
        b._trees = list(builder.trees)
        b._tree_output = list(builder.tree_outputs)
        for key in ("params", "bin_edges", "best_iteration", "best_score", "evals_result",
                    "provenance", "tags", "extra", "schema", "reference_profile",
                    "pandas_categorical", "pandas_categorical_features",
                    "category_code_features"):
            setattr(b, key, getattr(builder, key))
        if check and b._trees:
            try:
                b._get_forest()
            except SapwoodError as e:
                raise ModelFormatError(f"field '{builder.where}trees': {e}") from None
        return b

    def add_round(self, trees: list[dict[str, np.ndarray]]) -> None:
        """Append one boosting round (one tree per output, in output order), checked as
        :meth:`ModelBuilder.add_tree` checks trees. ``train`` calls it after every round."""
        k = self.num_outputs
        if len(trees) != k:
            raise ModelFormatError(f"a round needs {k} tree(s), got {len(trees)}")
        base = len(self._trees)
        checked = [check_tree_arrays(t, f"trees[{base + j}]") for j, t in enumerate(trees)]
        self._add_round(checked)

    # ------------------------------------------------------------------ structure
    @property
    def num_outputs(self) -> int:
        # multiclass: one per class; quantile: one per level; custom: one per output of its
        # loss (num_class holds their count)
        return self.num_class if self.objective in ("multiclass", "quantile", "custom") else 1

    @property
    def quantile_alphas(self) -> list[float] | None:
        """A multi-quantile model's levels (one output each, in predict's column order); None
        for any other model. Its predictions are the outputs sorted per row, so they never
        cross (``output="raw"`` gives the margins before sorting)."""
        if self.objective != "quantile" or self.num_class < 2:
            return None
        a = self.params.get("alpha")
        if isinstance(a, (list, tuple)) and len(a) == self.num_class:
            return [float(v) for v in a]
        return None

    @property
    def prediction_names(self) -> list[str]:
        """The names scoring gives predict's columns: ``prediction`` for one output,
        ``prediction_q0.05``... by level for a multi-quantile model, ``prediction_0``...
        otherwise."""
        k = self.num_outputs
        if k == 1:
            return ["prediction"]
        alphas = self.quantile_alphas
        if alphas is not None:
            return [f"prediction_q{a:g}" for a in alphas]
        return [f"prediction_{j}" for j in range(k)]

    @property
    def trained_with_init_score(self) -> bool:
        """Whether training started from per-row offsets (a Dataset's ``init_score``): the
        model then predicts the margin on top of an offset, given to ``predict(init_score=)``."""
        return bool(self.extra.get("trained_with_init_score", False))

    @property
    def num_trees(self) -> int:
        return len(self._trees)

    @property
    def num_rounds(self) -> int:
        return len(self._trees) // self.num_outputs

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    def _add_round(self, trees: list[dict[str, np.ndarray]]) -> None:
        for k, t in enumerate(trees):
            self._trees.append(t)
            self._tree_output.append(k)
        self._forest = None
        self._scorers = None

    def _truncate(self, rounds: int) -> None:
        k = self.num_outputs
        del self._trees[rounds * k:]
        del self._tree_output[rounds * k:]
        self._forest = None
        self._scorers = None

    def _get_forest(self) -> Any:
        forest = self._forest
        if forest is None:
            forest = _core.Forest(self._trees, np.asarray(self._tree_output, dtype=np.int32),
                                  self.num_outputs, self.num_features)
            # What the fast path of predict() needs, resolved once per packed forest.
            self._threads = resolve_n_jobs(self.params.get("n_jobs"))
            # (a model trained with offsets goes the slow way, which warns without them)
            self._fast_numpy = not self._has_categorical() and not self.trained_with_init_score
            self._forest_outputs = forest.num_outputs
            self.init_score = np.ascontiguousarray(self.init_score, dtype=np.float64)
            self._forest = forest
            self._scorers = None
        return forest

    def trees(self) -> list[Tree]:
        """Every tree, as read-only views (``tree["feature"]``, ``tree.gain``, ...); tree ``i``
        adds to output ``tree.output == i % num_outputs``."""
        return [Tree(t, k) for t, k in zip(self._trees, self._tree_output, strict=True)]

    def tree(self, i: int) -> Tree:
        """Tree ``i`` as a read-only view (negative ``i`` counts from the end)."""
        try:
            return Tree(self._trees[i], self._tree_output[i])
        except (IndexError, TypeError):
            raise ParameterError(f"tree index {i!r} is outside [0, {self.num_trees})") from None

    @property
    def tree_outputs(self) -> np.ndarray:
        """For each tree, the output (class) it adds to."""
        out = np.asarray(self._tree_output, dtype=np.int32)
        out.flags.writeable = False
        return out

    def tree_range(self, iteration_range: tuple[int, int] | None = None) -> tuple[int, int]:
        """The trees ``[begin, end)`` that ``predict(..., iteration_range=...)`` scores."""
        return self._tree_range(iteration_range)

    # ------------------------------------------------------------------ prediction
    def _has_categorical(self) -> bool:
        return any(s.get("kind") == "categorical" for s in (self.schema or []))

    @property
    def categorical_features(self) -> list[str]:
        """Names of the features trained as categorical (for an imported model: LightGBM's
        ``pandas_categorical_features``, XGBoost's ``category_code_features``)."""
        if self.schema is None and self.pandas_categorical_features is not None:
            return list(self.pandas_categorical_features)
        if self.schema is None and self.category_code_features:
            return list(self.category_code_features)
        return [s["name"] for s in (self.schema or []) if s.get("kind") == "categorical"]

    def feature_matrix(self, X: Any) -> np.ndarray:
        """The float matrix (rows x ``num_features``) the trees read for ``X``: columns matched
        by name, categories encoded as the model encodes them. What ``predict`` scores."""
        return self._matrix(X)

    def _matrix(self, X: Any) -> np.ndarray:
        if not self.feature_names:
            raise NotFittedError("this Booster has no trees; train it first")
        if self.schema is not None and (
            self._has_categorical() or not isinstance(X, np.ndarray)
        ):
            # Tables by column name, categories through the stored values (sapwood.data).
            return encode_for_schema(X, self.schema)
        if self.category_code_features and not isinstance(X, np.ndarray):
            return encode_category_codes(X, self.feature_names, set(self.category_code_features))
        if self.pandas_categorical is not None and not isinstance(X, np.ndarray) \
                and not _is_pandas_frame(X):
            # Another table (Arrow, polars, a file's batch): categories by value, as LightGBM
            # maps a pandas frame's category columns.
            return encode_for_schema(X, self._pandas_categorical_schema())
        if _is_pandas_frame(X):
            cols = [str(c) for c in X.columns]
            missing = [f for f in self.feature_names if f not in cols]
            if missing:
                raise SchemaError(
                    f"X is missing column(s) the model was trained on: {missing[:10]}"
                )
            if cols != self.feature_names:
                X = X[self.feature_names]
            if self.pandas_categorical is not None:
                X = self._encode_pandas_categorical(X)
        arr, _ = to_matrix(X)
        if arr.shape[1] != self.num_features:
            raise DataError(
                f"X has {arr.shape[1]} features but the model was trained on {self.num_features}"
            )
        return arr

    def _pandas_categorical_schema(self) -> list[dict[str, Any]]:
        cats = self.pandas_categorical or []
        names = self.pandas_categorical_features
        if names is None or len(names) != len(cats):
            raise SchemaError(
                "this imported LightGBM model does not say which features its "
                "pandas_categorical lists belong to: pass a pandas DataFrame whose categorical "
                "features have the category dtype"
            )
        by_name = dict(zip(names, cats, strict=True))
        return [{"name": f, "kind": "categorical", "categories": list(by_name[f])}
                if f in by_name else {"name": f, "kind": "numeric"}
                for f in self.feature_names]

    def _encode_pandas_categorical(self, X: Any) -> Any:
        """Categorical columns -> codes of the categories LightGBM saw (unseen/NA -> NaN)."""
        import pandas as pd

        cat_cols = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        if not cat_cols:
            return X
        cats = self.pandas_categorical or []
        if len(cat_cols) != len(cats):
            raise SchemaError(
                f"X has {len(cat_cols)} categorical column(s) but the model was trained with "
                f"{len(cats)}"
            )
        X = X.copy()
        for c, categories in zip(cat_cols, cats, strict=True):
            codes = pd.Categorical(X[c], categories=categories).codes.astype(np.float32)
            codes[codes < 0] = np.nan
            X[c] = codes
        return X

    def _tree_range(self, iteration_range: tuple[int, int] | None) -> tuple[int, int]:
        k = self.num_outputs
        if iteration_range is None:
            end = self.best_iteration if self.best_iteration else self.num_rounds
            return 0, end * k
        try:
            start, end = (int(v) for v in iteration_range)
        except (TypeError, ValueError):
            raise ParameterError(
                f"iteration_range must be a (start, end) pair, got {iteration_range!r}"
            ) from None
        if end <= 0:
            end = self.num_rounds
        if not 0 <= start <= end <= self.num_rounds:
            raise ParameterError(
                f"iteration_range {iteration_range!r} is outside [0, {self.num_rounds}]"
            )
        return start * k, end * k

    @overload
    def predict(
        self,
        X: Any,
        output: Output = "value",
        iteration_range: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        device: Literal["cpu"] = "cpu",
        init_score: Any = None,
    ) -> np.ndarray: ...

    @overload
    def predict(
        self,
        X: Any,
        output: Output = "value",
        iteration_range: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        device: str = "cpu",
        init_score: Any = None,
    ) -> Any: ...

    def predict(
        self,
        X: Any,
        output: Output = "value",
        iteration_range: tuple[int, int] | None = None,
        n_jobs: int | None = None,
        device: str = "cpu",
        init_score: Any = None,
    ) -> Any:
        """Score rows.

        output:
          "value": probabilities for classifiers, the prediction for regression;
          "raw": margins (before the link);
          "leaf": the leaf node index reached in each tree, shape (n_rows, n_trees);
          "contrib": exact TreeSHAP feature contributions, shape (n_rows, n_features + 1)
          (multiclass: (n_rows, num_class, n_features + 1)); the last column is the expected
          value (bias), and each row sums to the raw margin.
        Value/raw outputs have shape (n_rows,), multiclass (n_rows, num_class).
        iteration_range=(start, end) scores rounds [start, end); by default the rounds up to
        ``best_iteration`` when early stopping set it, else all. Inputs may be float32 or
        float64 numpy arrays in C or Fortran order (read in place) or pandas DataFrames.
        device: "cpu", or "cuda" for value/raw outputs on the GPU (equal to the CPU result
        within 1e-6): numpy/pandas input is copied to the device in pinned chunks and the
        result is a numpy array; input with ``__cuda_array_interface__`` (CuPy, Numba,
        PyTorch) is read in place and the result stays on the device (a CuPy array when CuPy
        is installed, else an object with ``__cuda_array_interface__`` and ``.get()``).
        init_score: per-row offsets ((n_rows,), or (n_rows, num_class) for multiclass) added to
        the raw margins before the link (contrib: to the bias column), as training added a
        Dataset's ``init_score``. A model trained with offsets warns when scored without them.
        """
        # Fast path (a few rows are called one by one): a numpy array, value/raw, the default
        # trees, a packed forest without categoricals; one C++ call through a scorer that has
        # the objective, init score and tree range resolved, and that declines (None) any X but
        # a 2-D float32 / float64 array of the model's width (the general path then names what
        # is wrong).
        if (
            type(X) is np.ndarray
            and self._fast_numpy
            and init_score is None
            and iteration_range is None
            and device == "cpu"
            and (output == "value" or output == "raw")
            # (the core clamps n_jobs to its cores; one past int32 goes the slow way)
            and (n_jobs is None or (type(n_jobs) is int and 0 < n_jobs < 2**31))
            # (_fast_numpy is False for a model trained with offsets: it is set with the packed
            # forest, which every change of trees or model file rebuilds)
        ):
            sc = self._scorers
            if sc is None:
                sc = self._scorers_now()
            if sc is not None:
                out: np.ndarray | None = sc[0 if output == "value" else 1](
                    X, self._threads if n_jobs is None else n_jobs)
                if out is not None:
                    return out
        if init_score is not None or self.trained_with_init_score:
            return self._predict_offset(X, output, iteration_range, n_jobs, device, init_score)
        return self._predict_plain(X, output, iteration_range, n_jobs, device)

    def _scorers_now(self) -> tuple[Any, Any] | None:
        """predict's scorers for the current forest, best_iteration, objective, num_class and
        init_score (None when there is no packed forest yet: the general path builds it)."""
        forest = self._forest
        if forest is None:
            return None
        init = self.init_score
        if not (type(init) is np.ndarray and init.dtype is _FLOAT_DTYPES[1]
                and init.flags.c_contiguous):
            return None  # the scorer would hold a converted copy: the general path reads it
        k = self._forest_outputs
        end = (self.best_iteration or len(self._trees) // k) * k
        make = forest.scorer
        # their bound predict methods, looked up once (a method lookup on the C++ object per
        # one-row call was about 50 ns of its 3 us)
        sc = (make(0, end, init, self.objective, self.num_class, True).predict,
              make(0, end, init, self.objective, self.num_class, False).predict)
        self._scorers = sc
        return sc

    def _predict_plain(self, X: Any, output: Output, iteration_range: tuple[int, int] | None,
                       n_jobs: int | None, device: str) -> Any:
        if device != "cpu":
            return self._predict_cuda(X, output, iteration_range, device)
        # Fast path (one C++ call): a float numpy array, value/raw, default trees.
        forest = self._forest
        if (
            forest is not None
            and self._fast_numpy
            and type(X) is np.ndarray
            and iteration_range is None
            # (the core clamps n_jobs to its cores; one past int32 goes the slow way)
            and (n_jobs is None or (type(n_jobs) is int and 0 < n_jobs < 2**31))
            and (output == "value" or output == "raw")
            and X.ndim == 2
            and X.shape[1] == len(self.feature_names)
            # numpy's native float dtypes are singletons: identity is the cheap test
            and (X.dtype is _FLOAT_DTYPES[0] or X.dtype is _FLOAT_DTYPES[1])
        ):
            k = self._forest_outputs
            end = self.best_iteration or len(self._trees) // k
            out: np.ndarray = forest.predict(
                X, 0, end * k, self.init_score, self.objective, self.num_class,
                output == "value", self._threads if n_jobs is None else n_jobs,
            )
            return out
        if output not in ("value", "raw", "leaf", "contrib"):
            raise ParameterError(
                f"output must be 'value', 'raw', 'leaf' or 'contrib', got {output!r}"
            )
        arr = self._matrix(X)
        b, e = self._tree_range(iteration_range)
        if n_jobs is None:
            threads = self._threads or resolve_n_jobs(self.params.get("n_jobs"))
        else:
            threads = resolve_n_jobs(n_jobs)
        forest = self._get_forest()
        if output == "leaf":
            out_leaf: np.ndarray = forest.predict_leaf(arr, b, e, threads)
            return out_leaf
        init = np.ascontiguousarray(self.init_score, dtype=np.float64)
        if output == "contrib":
            contrib: np.ndarray = forest.predict_contrib(arr, b, e, init, threads)
            return contrib[:, 0, :] if self.num_outputs == 1 else contrib
        res: np.ndarray = forest.predict(arr, b, e, init, self.objective, self.num_class,
                                         output == "value", threads)
        return res

    def _predict_offset(self, X: Any, output: Output, iteration_range: tuple[int, int] | None,
                        n_jobs: int | None, device: str, init_score: Any) -> Any:
        if init_score is None:
            warnings.warn("this model was trained with per-row offsets (init_score) and is "
                          "scored without them: pass predict(X, init_score=...)",
                          UserWarning, stacklevel=3)
        if output == "leaf":
            if init_score is not None:
                raise ParameterError("init_score applies to the 'value', 'raw' and 'contrib' "
                                     "outputs, not 'leaf'")
            return self._predict_plain(X, output, iteration_range, n_jobs, device)
        raw_out: Output = "contrib" if output == "contrib" else "raw"
        got = self._predict_plain(X, raw_out, iteration_range, n_jobs, device)
        out = np.array(got.get() if hasattr(got, "get") else got, dtype=np.float64)
        n, k = out.shape[0], self.num_outputs
        try:
            off = np.zeros((n, k)) if init_score is None else np.asarray(init_score,
                                                                          dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("init_score must be numeric") from None
        if off.ndim == 1 and k == 1:
            off = off.reshape(-1, 1)
        if off.shape != (n, k):
            raise DataError(f"init_score must have shape ({n},{'' if k == 1 else f' {k}'}) "
                            f"(one offset per row{'' if k == 1 else ' and output'}), got "
                            f"{off.shape}")
        bad = np.flatnonzero(~np.isfinite(off).all(axis=1))
        if bad.size:
            raise DataError(f"init_score must be finite; row {bad[0]} has {off[bad[0]]}")
        if output == "contrib":
            if k == 1:
                out[:, -1] += off[:, 0]
            else:
                out[:, :, -1] += off
            return out
        raw = out.reshape(n, k) + off
        if output == "value":
            threads = resolve_n_jobs(self.params.get("n_jobs") if n_jobs is None else n_jobs)
            _core.transform_scores(self.objective, self.num_class, raw, threads)
        return raw[:, 0] if k == 1 else raw

    @property
    def columns_kernel(self) -> bool:
        """Whether :meth:`predict_columns` can run (numeric features only, and a forest the
        bit-vector kernel scores)."""
        forest = self._get_forest()
        return bool(self._fast_numpy and forest.columns_kernel)

    def predict_columns(self, columns: list[np.ndarray], output: str = "value",
                        n_jobs: int | None = None) -> np.ndarray:
        """predict(X, output) ("value" or "raw", default trees) for X given as one float32
        1-D array per feature, read in place (Arrow buffers, for instance); only where
        :attr:`columns_kernel`."""
        forest = self._get_forest()
        k = self._forest_outputs
        end = self.best_iteration or len(self._trees) // k
        threads = self._threads if n_jobs is None else resolve_n_jobs(n_jobs)
        out: np.ndarray = forest.predict_columns(
            columns, 0, end * k, self.init_score, self.objective, self.num_class,
            output == "value", threads,
        )
        return out

    def _predict_cuda(self, X: Any, output: str, iteration_range: tuple[int, int] | None,
                      device: str) -> Any:
        from .gpu import predict_cuda

        return predict_cuda(self, X, output, iteration_range, device)

    # ------------------------------------------------------------------ refit
    def refit(self, data: Any, label: Any, weight: Any = None, *, decay_rate: float = 0.9,
              init_score: Any = None, n_jobs: int | None = None) -> Booster:
        """A copy of this model with the same trees and their leaf values re-fitted on new data
        (LightGBM's ``refit``).

        Tree by tree, in training order, the rows are dropped to their leaves and each leaf
        gets ``decay_rate * old + (1 - decay_rate) * new``. ``new`` is the loss's Newton step
        on the leaf's rows at the scores so far (the robust losses l1 / huber / quantile: the
        exact quantile of the residuals), with the model's reg_lambda / reg_alpha and learning
        rate. Leaves no row reaches keep their value. Single-output objectives; ranking
        objectives need query groups and are refused. Refitting on the training data itself
        with decay_rate=0 gives back the model's leaf values.
        """
        if self.num_outputs != 1:
            raise ParameterError("refit supports single-output objectives; this model has "
                                 f"{self.num_outputs} outputs")
        if self.objective in ("lambdarank", "rank_xendcg", "cox", "custom"):
            raise ParameterError(f"refit does not support the {self.objective!r} objective")
        if not 0.0 <= float(decay_rate) <= 1.0:
            raise ParameterError(f"decay_rate must be in [0, 1], got {decay_rate!r}")
        from .._params import core_params, resolve_params

        leaves = np.asarray(self.predict(data, output="leaf",
                                         iteration_range=(0, self.num_rounds), n_jobs=n_jobs))
        n = leaves.shape[0]
        y = np.asarray(label, dtype=np.float64).reshape(-1)
        if y.shape[0] != n:
            raise DataError(f"label has {y.shape[0]} rows but the data has {n}")
        w = None if weight is None else np.asarray(weight, dtype=np.float64).reshape(-1)
        if w is not None and w.shape[0] != n:
            raise DataError(f"weight has {w.shape[0]} rows but the data has {n}")
        known = {k: v for k, v in self.params.items() if k != "source"}
        try:
            p = resolve_params(known)
        except ParameterError:  # an imported model: its objective with default parameters
            p = resolve_params({"objective": self.objective})
        cp = core_params(p)
        cp["n_jobs"] = resolve_n_jobs(n_jobs)
        raw = np.full(n, float(np.asarray(self.init_score).reshape(-1)[0]))
        if init_score is not None:
            raw += np.asarray(init_score, dtype=np.float64).reshape(-1)
        robust = bool(_core.objective_renews_leaves(cp))
        lr, l2, l1 = float(p["learning_rate"]), float(p["reg_lambda"]), float(p["reg_alpha"])
        decay = float(decay_rate)
        out = Booster.from_bytes(self.to_bytes())
        for t, tree in enumerate(out._trees):
            value = np.array(tree["value"], dtype=np.float64, copy=True)
            node = leaves[:, t].astype(np.int64)
            count = np.bincount(node, minlength=value.size)
            if robust:
                new = value.copy()
                order = np.argsort(node, kind="stable")
                bounds = np.concatenate([[0], np.cumsum(count)])
                r = y - raw
                for leaf in np.flatnonzero(count):
                    idx = order[bounds[leaf]:bounds[leaf + 1]]
                    new[leaf] = _core.robust_leaf_value(
                        cp, r[idx], np.empty(0) if w is None else w[idx])
            else:
                _, g, h = _core.objective_gradients(self.objective, raw, y, w, cp)
                G = np.bincount(node, weights=g, minlength=value.size)
                H = np.bincount(node, weights=h, minlength=value.size)
                shrunk = np.sign(G) * np.maximum(np.abs(G) - l1, 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    new = np.where(H + l2 > 0, -shrunk / (H + l2), 0.0) * lr
            reached = count > 0
            value[reached] = decay * value[reached] + (1.0 - decay) * new[reached]
            tree["value"] = value
            raw += value[node]
        out._forest = None
        out._scorers = None
        return out

    # ------------------------------------------------------------------ importance
    def feature_importance(self, kind: Literal["split", "gain"] = "split",
                           iteration_range: tuple[int, int] | None = None) -> np.ndarray:
        """Per feature: the number of splits on it ("split") or their total gain ("gain")."""
        if kind not in ("split", "gain"):
            raise ParameterError(f"kind must be 'split' or 'gain', got {kind!r}")
        b, e = self._tree_range(iteration_range)
        out = np.zeros(self.num_features, dtype=np.float64)
        for i in range(b, e):
            t = Tree(self._trees[i])
            f = t.feature
            mask = f >= 0
            if kind == "split":
                np.add.at(out, f[mask], 1.0)
            else:  # a tree without the optional gain array adds nothing
                np.add.at(out, f[mask], t.gain[mask])
        return out

    # ------------------------------------------------------------------ model file
    def to_bytes(self) -> bytes:
        """The model file's bytes (see :mod:`sapwood.model.format`): no pickle inside."""
        return _serialize.dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Booster:
        """A Booster from :meth:`to_bytes` output; raises ModelFormatError naming any fault."""
        return _serialize.loads(data, cls.from_builder)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model file atomically (temporary file, fsync, rename over ``path``)."""
        _serialize.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Booster:
        """Read a model file written by :meth:`save`."""
        return _serialize.load(path, cls.from_builder)

    # ------------------------------------------------------------------ export
    def to_onnx(self, **options: Any) -> Any:
        """This model as an ``onnx.ModelProto`` (an ``ai.onnx.ml`` tree ensemble that ONNX
        Runtime scores as :meth:`predict` does); see :func:`sapwood.model.export.to_onnx`."""
        from .export import to_onnx

        return to_onnx(self, **options)

    def to_xgboost_json(self, **options: Any) -> str:
        """This model as XGBoost JSON text (loaded by XGBoost, Treelite, Triton FIL); see
        :func:`sapwood.model.export.to_xgboost_json`."""
        from .export import to_xgboost_json

        return to_xgboost_json(self, **options)

    # ------------------------------------------------------------------ pickling
    # Pickling (scikit-learn clone, joblib, multiprocessing) goes through the model file's
    # bytes, so a pickled Booster is validated on load like any model file.
    def __getstate__(self) -> dict[str, Any]:
        return {"sapwood_model": self.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = Booster.from_bytes(state["sapwood_model"])
        self.__dict__.update(other.__dict__)

    def __repr__(self) -> str:
        return (f"<sapwood.Booster objective={self.objective!r} rounds={self.num_rounds} "
                f"features={self.num_features}>")
