"""The one way a Booster is built from trees (training, the model file reader, every importer).

Like treelite's ``model_builder``: say what the model is (objective, classes, features,
initial scores), add its trees one by one (each checked as it is added), then make the
Booster::

    from sapwood.model import Booster, ModelBuilder

    mb = ModelBuilder("binary", feature_names=["age", "income"], init_score=[0.0])
    mb.add_tree({"feature": np.array([0, -1, -1], np.int32),
                 "threshold": np.array([30.5, 0, 0], np.float32),
                 "default_left": np.array([1, 0, 0], np.uint8),
                 "left": np.array([1, -1, -1], np.int32),
                 "right": np.array([2, -1, -1], np.int32),
                 "value": np.array([0.0, -0.4, 0.3])})
    booster = Booster.from_builder(mb)   # the C++ forest checks the structure here

A round is one tree per output (``num_class`` trees for multiclass, in class order); trees
are added round by round, so tree ``i`` adds to output ``i % num_outputs``. The node arrays
are described in :mod:`sapwood.model.tree`. Every fault raises
:class:`sapwood.ModelFormatError` naming the field.

May import: ``errors``, ``objectives``, ``model.tree`` and numpy (never the Booster: the
Booster imports this module).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import objectives as _objectives
from ..errors import ModelFormatError, ParameterError
from .tree import check_tree_arrays

__all__ = ["ModelBuilder"]

_SCALAR = (str, int, float, bool)
_MAX_CLASSES = 1_000_000


def _fail(msg: str) -> ModelFormatError:
    return ModelFormatError(msg)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _str_list(v: Any, where: str) -> list[str]:
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        raise _fail(f"field '{where}' must be a list of strings, got {_short(v)}")
    return list(v)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


class ModelBuilder:
    """Collects a model's description and trees; :meth:`Booster.from_builder` makes the
    Booster. Attributes (besides those given to the constructor) are copied to the Booster as
    they are: ``params``, ``bin_edges``, ``best_iteration``, ``best_score``, ``evals_result``,
    ``provenance``, ``tags``, ``extra``, ``schema``, ``reference_profile``,
    ``pandas_categorical``, ``pandas_categorical_features``, ``category_code_features``."""

    def __init__(self, objective: str, *, feature_names: Sequence[str], num_class: int = 1,
                 init_score: Sequence[float] | np.ndarray | None = None,
                 where: str = "") -> None:
        # ``where`` prefixes the field names errors give (the model file reader: "model.")
        self.where = where
        try:
            info = _objectives.resolve(objective)
        except ParameterError as e:
            raise _fail(f"field '{where}objective': {e}") from None
        if not _is_int(num_class) or not 1 <= int(num_class) <= _MAX_CLASSES:
            raise _fail(f"field '{where}num_class' must be an integer in [1, {_MAX_CLASSES}], got "
                        f"{_short(num_class)}")
        num_class = int(num_class)
        if not (info.multi_level or info.any_outputs) and info.multi_output != (num_class >= 2):
            raise _fail(f"field '{where}num_class' is {num_class} for objective {info.name!r}"
                        + (" (it needs at least 2 classes)" if info.multi_output else ""))
        self.objective = info.name
        self.num_class = num_class
        self.num_outputs = info.num_outputs(num_class)
        names = _str_list(feature_names, f"{where}feature_names")
        if len(set(names)) != len(names):
            dup = next(s for i, s in enumerate(names) if s in names[:i])
            raise _fail(f"field '{where}feature_names' has duplicate names (e.g. {dup!r})")
        self.feature_names = names
        k = self.num_outputs
        if init_score is None:
            init = np.zeros(k, dtype=np.float64)
        else:
            try:
                init = np.array(init_score, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError, OverflowError):
                raise _fail(f"field '{where}init_score' must be {k} number(s), got "
                            f"{_short(init_score)}") from None
        if init.shape != (k,) or not np.all(np.isfinite(init)):
            raise _fail(f"field '{where}init_score' must hold {k} finite value(s), got {init!r}")
        self.init_score = init
        self.trees: list[dict[str, np.ndarray]] = []
        self.tree_outputs: list[int] = []
        self.params: dict[str, Any] = {}
        self.bin_edges: list[np.ndarray] = []
        self.best_iteration: int | None = None
        self.best_score: dict[str, dict[str, float]] = {}
        self.evals_result: dict[str, dict[str, list[float]]] = {}
        self.provenance: dict[str, Any] = {}
        self.tags: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        self.schema: list[Any] | None = None
        self.reference_profile: Any = None
        self.pandas_categorical: list[list[Any]] | None = None
        self.pandas_categorical_features: list[str] | None = None
        self.category_code_features: list[str] | None = None

    # ------------------------------------------------------------------ trees
    def add_tree(self, arrays: Mapping[str, np.ndarray], output: int | None = None, *,
                 where: str | None = None) -> None:
        """Add the next tree. ``output`` (default: the next in the round) must be
        ``number of trees so far % num_outputs``: rounds hold one tree per output, in order.
        ``where`` names the tree in errors (default ``trees[i]``)."""
        w = self.where
        i = len(self.trees)
        expect = i % self.num_outputs
        if output is not None and (not _is_int(output) or int(output) != expect):
            raise _fail(f"field '{w}trees[{i}].output' is {_short(output)}, expected {expect} "
                        f"(a round holds one tree per output, in order)")
        self.trees.append(check_tree_arrays(arrays, where or f"{w}trees[{i}]"))
        self.tree_outputs.append(expect)

    def add_round(self, trees: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Add one boosting round: one tree per output, in output order."""
        if len(trees) != self.num_outputs:
            raise _fail(f"a round needs {self.num_outputs} tree(s), got {len(trees)}")
        for t in trees:
            self.add_tree(t)

    @property
    def num_rounds(self) -> int:
        return len(self.trees) // self.num_outputs

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Check everything but the tree structure (the Booster's forest checks that)."""
        w = self.where
        k = self.num_outputs
        if len(self.trees) % k:
            raise _fail(f"field '{w}trees' has {len(self.trees)} trees, not a multiple of the "
                        f"{k} outputs")
        nf = len(self.feature_names)
        if not isinstance(self.bin_edges, list) or len(self.bin_edges) not in (0, nf):
            raise _fail(f"field '{w}bin_edges' must be a list of {nf} arrays")
        best = self.best_iteration
        if best is not None and (not _is_int(best) or not 1 <= best <= self.num_rounds):
            raise _fail(f"field '{w}best_iteration' is {_short(best)}, expected null or an "
                        f"integer in [1, {self.num_rounds}]")
        if not isinstance(self.params, dict):
            raise _fail(f"field '{w}params' must be a mapping")
        nj = self.params.get("n_jobs")
        if nj is not None and not _is_int(nj):  # predict() reads it
            raise _fail(f"field '{w}params.n_jobs' must be an integer or null, got {_short(nj)}")
        tp = self.params.get("tweedie_variance_power")
        if tp is not None and (isinstance(tp, bool) or not isinstance(tp, (int, float))
                               or not 1 < tp < 2):
            raise _fail(f"field '{w}params.tweedie_variance_power' must be a number in (1, 2), "
                        f"got {_short(tp)}")
        names = set(self.feature_names)
        pc = self.pandas_categorical
        if pc is not None:
            if not isinstance(pc, list) or not all(
                    isinstance(c, list) and all(isinstance(v, _SCALAR) for v in c)
                    for c in pc):
                raise _fail(f"field '{w}pandas_categorical' must be null or a list of lists of "
                            f"category values (strings or numbers), got {_short(pc)}")
            for j, c in enumerate(pc):
                if len(set(c)) != len(c):
                    raise _fail(f"field '{w}pandas_categorical[{j}]' has a repeated category")
        pcf = self.pandas_categorical_features
        if pcf is not None:
            pcf = _str_list(pcf, f"{w}pandas_categorical_features")
            if not set(pcf) <= names or pc is None or len(pcf) != len(pc) \
                    or len(set(pcf)) != len(pcf):
                raise _fail(f"field '{w}pandas_categorical_features' must be null or a list of "
                            "feature names, one per pandas_categorical list")
        ccf = self.category_code_features
        if ccf is not None:
            ccf = _str_list(ccf, f"{w}category_code_features")
            if not set(ccf) <= names:
                raise _fail(f"field '{w}category_code_features' must be null or a list of "
                            "feature names")
        for key in ("best_score", "evals_result", "provenance", "tags", "extra"):
            if not isinstance(getattr(self, key), dict):
                raise _fail(f"field '{w}{key}' must be a mapping")
        for s, ms in self.best_score.items():
            for m, v in (ms.items() if isinstance(ms, dict) else ()):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise _fail(f"field '{w}best_score.{s}.{m}' must be a number, got {_short(v)}")
