"""One tree's node arrays: the checks every tree passes on its way into a Booster, and a
read-only view for everyone who reads trees (``inspect``, the GPU path, validation, exporters).

A tree is a set of parallel 1-D node arrays; node 0 is the root and children always have
larger indices than their parent (the C++ ``Forest`` constructor checks the structure):

=============  =========  ==============================================================
field          dtype      meaning
=============  =========  ==============================================================
feature        int32      split feature index, -1 for a leaf
threshold      float32    numeric split: go left when ``x <= threshold`` (float32 compare)
threshold_bin  int32      the same test on bin codes (trained models)
default_left   uint8      where a missing value goes (1: left)
left, right    int32      child node indices (-1 for a leaf)
value          float64    leaf output (raw margin units)
gain           float64    split gain (0 for leaves)            optional
hess           float64    cover: sum of hessians reaching the node  optional
count          int64      training rows reaching the node       optional
split_type     uint8      0 numeric, 1 numeric with zero-as-missing, 2 categorical  optional
cat_begin      int32      categorical split: first word of its bitset in ``cat_bits``
cat_size       int32      categorical split: number of 32-bit words
cat_bits       uint32     the bitsets (a category whose bit is set goes left)
=============  =========  ==============================================================

May import: ``errors`` and numpy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..errors import ModelFormatError

__all__ = ["Tree", "TREE_FIELDS", "REQUIRED_TREE_FIELDS", "check_tree_arrays"]

# Node arrays the predictor reads: canonical dtype, one entry per node.
TREE_FIELDS: dict[str, np.dtype[Any]] = {
    "feature": np.dtype(np.int32),
    "threshold": np.dtype(np.float32),
    "threshold_bin": np.dtype(np.int32),
    "default_left": np.dtype(np.uint8),
    "left": np.dtype(np.int32),
    "right": np.dtype(np.int32),
    "value": np.dtype(np.float64),
    "gain": np.dtype(np.float64),
    "hess": np.dtype(np.float64),
    "count": np.dtype(np.int64),
}
REQUIRED_TREE_FIELDS = ("feature", "threshold", "default_left", "left", "right", "value")
# The categorical split arrays: canonical dtypes for reading (the C++ Forest checks them).
_CATEGORICAL_FIELDS: dict[str, np.dtype[Any]] = {
    "split_type": np.dtype(np.uint8),
    "cat_begin": np.dtype(np.int32),
    "cat_size": np.dtype(np.int32),
    "cat_bits": np.dtype(np.uint32),
}


def _check_field(a: Any, where: str, canonical: np.dtype[Any]) -> np.ndarray:
    """A 1-D node array of the canonical dtype, or of another dtype of the same kind whose
    values convert to it exactly (kept as given, so that a model file re-saves to the same
    bytes)."""
    if not isinstance(a, np.ndarray):
        raise ModelFormatError(f"field '{where}' must be an array")
    if a.ndim != 1:
        raise ModelFormatError(f"field '{where}' must be 1-D, got shape {a.shape}")
    if a.dtype == canonical:
        return a
    kinds = "iub" if canonical.kind in "iub" else "f"
    if a.dtype.kind not in kinds:
        raise ModelFormatError(f"field '{where}' has dtype {a.dtype}, expected {canonical}")
    with np.errstate(all="ignore"):
        back = a.astype(canonical).astype(a.dtype)
    if not np.array_equal(back, a, equal_nan=a.dtype.kind == "f"):
        raise ModelFormatError(f"field '{where}' has {a.dtype} values that do not fit "
                               f"{canonical}")
    return a


def check_tree_arrays(arrays: Any, where: str = "tree") -> dict[str, np.ndarray]:
    """Check one tree's node arrays (names, dtypes, lengths); raise ModelFormatError naming the
    field. Returns a new dict of the same arrays (not copied): fields this version does not
    know are kept as they are (a later predictor's optional arrays)."""
    if not isinstance(arrays, Mapping):
        raise ModelFormatError(f"field '{where}' must be a mapping of node arrays")
    for f in REQUIRED_TREE_FIELDS:
        if f not in arrays:
            raise ModelFormatError(f"field '{where}.{f}' is missing")
    out: dict[str, np.ndarray] = {}
    n: int | None = None
    for name, a in arrays.items():
        if not isinstance(name, str):
            raise ModelFormatError(f"field '{where}' has a non-string key {name!r}")
        aw = f"{where}.{name}"
        if name in TREE_FIELDS:
            a = _check_field(a, aw, TREE_FIELDS[name])
            if n is None:
                n = int(a.shape[0])
            if a.shape[0] != n:
                raise ModelFormatError(f"field '{aw}' has {a.shape[0]} entries, expected {n}")
        elif not isinstance(a, np.ndarray):
            raise ModelFormatError(f"field '{aw}' must be an array")
        out[name] = a
    return out


def _readonly(a: np.ndarray, dtype: np.dtype[Any] | None) -> np.ndarray:
    with np.errstate(all="ignore"):
        v = a.astype(dtype) if dtype is not None and a.dtype != dtype else a.view()
    v.flags.writeable = False
    return v


class Tree(Mapping[str, np.ndarray]):
    """A read-only view of one tree (see the module docstring for the fields).

    ``tree["feature"]`` (a Mapping over the stored arrays) and the attributes below return
    read-only arrays in the canonical dtypes, whatever width a model file stored them in.
    ``output`` is the output (class) the tree adds to. Optional arrays a tree does not have
    read as zeros through the attributes (``gain``, ``cover``, ``count``, ``split_type``).
    """

    __slots__ = ("_arrays", "output")

    def __init__(self, arrays: Mapping[str, np.ndarray], output: int = 0) -> None:
        known = {**TREE_FIELDS, **_CATEGORICAL_FIELDS}
        self._arrays = {k: _readonly(np.asarray(v), known.get(k)) for k, v in arrays.items()}
        self.output = int(output)

    # Mapping
    def __getitem__(self, key: str) -> np.ndarray:
        return self._arrays[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return f"<sapwood Tree output={self.output} nodes={self.num_nodes} " \
               f"leaves={self.num_leaves}>"

    def _opt(self, key: str, dtype: Any) -> np.ndarray:
        a = self._arrays.get(key)
        if a is None:
            a = np.zeros(self.num_nodes, dtype=dtype)
            a.flags.writeable = False
        return a

    # structure
    @property
    def num_nodes(self) -> int:
        return int(self._arrays["feature"].shape[0])

    @property
    def is_leaf(self) -> np.ndarray:
        out: np.ndarray = self._arrays["feature"] < 0
        return out

    @property
    def num_leaves(self) -> int:
        return int(np.count_nonzero(self.is_leaf))

    @property
    def feature(self) -> np.ndarray:
        return self._arrays["feature"]

    @property
    def threshold(self) -> np.ndarray:
        return self._arrays["threshold"]

    @property
    def default_left(self) -> np.ndarray:
        out: np.ndarray = self._arrays["default_left"] != 0
        out.flags.writeable = False
        return out

    @property
    def left(self) -> np.ndarray:
        return self._arrays["left"]

    @property
    def right(self) -> np.ndarray:
        return self._arrays["right"]

    @property
    def value(self) -> np.ndarray:
        return self._arrays["value"]

    @property
    def gain(self) -> np.ndarray:
        return self._opt("gain", np.float64)

    @property
    def cover(self) -> np.ndarray:
        """Sum of hessians reaching each node (XGBoost's cover; LightGBM's counts)."""
        return self._opt("hess", np.float64)

    @property
    def count(self) -> np.ndarray:
        return self._opt("count", np.int64)

    @property
    def split_type(self) -> np.ndarray:
        return self._opt("split_type", np.uint8)

    def depths(self) -> np.ndarray:
        """Each node's depth (the root is at 0)."""
        feature, left, right = self.feature, self.left, self.right
        depth = np.zeros(self.num_nodes, dtype=np.int64)
        for i in range(self.num_nodes):  # children have larger indices than their parent
            if feature[i] >= 0:
                depth[left[i]] = depth[right[i]] = depth[i] + 1
        return depth

    @property
    def depth(self) -> int:
        """The deepest leaf's depth (0 for a single-leaf tree)."""
        d = self.depths()
        return int(d.max()) if d.size else 0

    def categories(self, node: int) -> np.ndarray:
        """The categories (codes) a categorical split sends left; empty for other nodes."""
        if not 0 <= node < self.num_nodes or int(self.split_type[node]) != 2:
            return np.zeros(0, dtype=np.int64)
        b = int(self._arrays["cat_begin"][node])
        words = self._arrays["cat_bits"][b:b + int(self._arrays["cat_size"][node])]
        bits = np.unpackbits(words.astype("<u4").view(np.uint8), bitorder="little")
        return np.flatnonzero(bits).astype(np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        """Writable copies of the node arrays (canonical dtypes)."""
        return {k: np.array(v) for k, v in self._arrays.items()}
