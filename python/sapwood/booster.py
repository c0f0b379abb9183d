"""The trained model: trees, bin edges, feature names and the objective's link."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from . import _core
from ._params import resolve_n_jobs
from .data import _is_pandas_frame, to_matrix
from .errors import DataError, NotFittedError, ParameterError, SchemaError

__all__ = ["Booster"]

Output = Literal["value", "raw", "leaf"]


class Booster:
    """A gradient-boosted tree ensemble.

    Built by :func:`sapwood.train` (or the estimators). ``predict`` is thread-safe: many
    Python threads may score with one Booster at once (the GIL is released while scoring).
    """

    def __init__(self) -> None:
        self._trees: list[dict[str, np.ndarray]] = []
        self._tree_output: list[int] = []
        self.objective: str = "regression"
        self.num_class: int = 1
        self.init_score: np.ndarray = np.zeros(1)
        self.feature_names: list[str] = []
        self.bin_edges: list[np.ndarray] = []
        self.params: dict[str, Any] = {}
        self.best_iteration: int | None = None
        self.best_score: dict[str, dict[str, float]] = {}
        self.evals_result: dict[str, dict[str, list[float]]] = {}
        # library_version, created_at, data_fingerprint (set by train(), kept by save/load)
        self.provenance: dict[str, Any] = {}
        # free-form user tags (JSON-like values), stored in the model file
        self.tags: dict[str, Any] = {}
        # further sections (JSON-like values and numpy arrays), stored generically
        self.extra: dict[str, Any] = {}
        self._forest: Any = None

    # ------------------------------------------------------------------ structure
    @property
    def num_outputs(self) -> int:
        return self.num_class if self.objective == "multiclass" else 1

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

    def _truncate(self, rounds: int) -> None:
        k = self.num_outputs
        del self._trees[rounds * k:]
        del self._tree_output[rounds * k:]
        self._forest = None

    def _get_forest(self) -> Any:
        forest = self._forest
        if forest is None:
            forest = _core.Forest(self._trees, np.asarray(self._tree_output, dtype=np.int32),
                                  self.num_outputs, self.num_features)
            self._forest = forest
        return forest

    def trees(self) -> list[dict[str, np.ndarray]]:
        """Each tree's node arrays (copies)."""
        return [{k: v.copy() for k, v in t.items()} for t in self._trees]

    # ------------------------------------------------------------------ prediction
    def _matrix(self, X: Any) -> np.ndarray:
        if not self.feature_names:
            raise NotFittedError("this Booster has no trees; train it first")
        if _is_pandas_frame(X):
            cols = [str(c) for c in X.columns]
            missing = [f for f in self.feature_names if f not in cols]
            if missing:
                raise SchemaError(
                    f"X is missing column(s) the model was trained on: {missing[:10]}"
                )
            if cols != self.feature_names:
                X = X[self.feature_names]
        arr, _ = to_matrix(X)
        if arr.shape[1] != self.num_features:
            raise DataError(
                f"X has {arr.shape[1]} features but the model was trained on {self.num_features}"
            )
        return arr

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

    def predict(
        self,
        X: Any,
        output: Output = "value",
        iteration_range: tuple[int, int] | None = None,
        n_jobs: int | None = None,
    ) -> np.ndarray:
        """Score rows.

        output: "value" (probabilities for classifiers, the prediction for regression),
        "raw" (margins) or "leaf" (leaf index per tree). Multiclass value/raw outputs have one
        column per class. iteration_range=(start, end) scores rounds [start, end); by default
        the rounds up to ``best_iteration`` when early stopping set it, else all.
        """
        if output not in ("value", "raw", "leaf"):
            raise ParameterError(f"output must be 'value', 'raw' or 'leaf', got {output!r}")
        arr = self._matrix(X)
        b, e = self._tree_range(iteration_range)
        threads = resolve_n_jobs(n_jobs if n_jobs is not None else self.params.get("n_jobs"))
        forest = self._get_forest()
        if output == "leaf":
            out_leaf: np.ndarray = forest.predict_leaf(arr, b, e, threads)
            return out_leaf
        k = self.num_outputs
        out = np.empty((arr.shape[0], k), dtype=np.float64)
        out[:] = self.init_score.reshape(1, k)
        forest.predict_raw(arr, b, e, out, threads)
        if output == "value":
            _core.transform_scores(self.objective, self.num_class, out, threads)
        return out[:, 0] if k == 1 else out

    # ------------------------------------------------------------------ importance
    def feature_importance(self, kind: Literal["split", "gain"] = "split",
                           iteration_range: tuple[int, int] | None = None) -> np.ndarray:
        """Per feature: the number of splits on it ("split") or their total gain ("gain")."""
        if kind not in ("split", "gain"):
            raise ParameterError(f"kind must be 'split' or 'gain', got {kind!r}")
        b, e = self._tree_range(iteration_range)
        out = np.zeros(self.num_features, dtype=np.float64)
        for t in self._trees[b:e]:
            f = t["feature"]
            mask = f >= 0
            if kind == "split":
                np.add.at(out, f[mask], 1.0)
            else:
                np.add.at(out, f[mask], t["gain"][mask])
        return out

    # ------------------------------------------------------------------ model file
    def to_bytes(self) -> bytes:
        """The model file's bytes (see :mod:`sapwood.io`): no pickle inside."""
        from .io import dumps

        return dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Booster:
        """A Booster from :meth:`to_bytes` output; raises ModelFormatError naming any fault."""
        from .io import loads

        return loads(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model file (atomically: a temporary file is renamed over ``path``)."""
        from .io import save

        save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Booster:
        """Read a model file written by :meth:`save`."""
        from .io import load

        return load(path)

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
