"""
sapwood's compiled core (private: use the sapwood package)
"""
from __future__ import annotations

import collections.abc
import typing

import numpy
import numpy.typing

__all__: list[str] = ['BinnedMatrix', 'CudaForest', 'DeviceArray', 'Forest', 'Scorer', 'Trainer', 'binned_allocate', 'binned_fill_columns', 'build_histogram', 'concordance_index', 'cuda_available', 'cuda_compiled', 'exact_sum_scale_bits', 'exact_sum_sq_scale_bits', 'fit_bin_edges', 'fit_bin_edges_columns', 'lookup_bins', 'objective_gradients', 'openmp', 'profile_avx512_available', 'profile_numeric', 'quantized_bin_bytes', 'query_metric', 'ranking_metrics', 'transform_scores']
class BinnedMatrix:
    @staticmethod
    def from_dense(X: numpy.ndarray, edges: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float32]], n_threads: typing.SupportsInt | typing.SupportsIndex) -> BinnedMatrix:
        ...
    def to_numpy(self) -> numpy.typing.NDArray[numpy.uint16]:
        ...
    @property
    def is_wide(self) -> bool:
        ...
    @property
    def num_features(self) -> int:
        ...
    @property
    def num_rows(self) -> int:
        ...
class Trainer:
    def __init__(self, data: BinnedMatrix, label: typing.Any, weight: typing.Any, params: dict[str, typing.Any]) -> None:
        ...
    def boost_round(self) -> list[typing.Any]:
        ...
    def scores(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def set_scores(self, scores: typing.Any, init_score: typing.Any) -> None:
        ...
    def add_tree_scores(self, tree: dict[str, typing.Any], output: int) -> None:
        ...
    def set_iteration(self, iteration: int) -> None:
        ...
    def set_groups(self, bounds: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> None:
        ...
    @property
    def init_score(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def num_outputs(self) -> int:
        ...
    # distributed training, the worker's side
    def begin_round(self) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], int]:
        ...
    def begin_tree(self, output: int, scale_g: float, scale_h: float, count_bits: int) -> None:
        ...
    def root(self, build: bool) -> tuple[int, int, numpy.typing.NDArray[numpy.int64] | None]:
        ...
    def expand(self, requests: typing.Any, categories: list[typing.Any]) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def finish_tree(self, tree: dict[str, typing.Any], output: int, leaves: typing.Any) -> None:
        ...
    def end_round(self) -> None:
        ...
    def set_gradients(self, grad: typing.Any, hess: typing.Any) -> None:
        ...
    def set_elementwise(self, address: int) -> None:
        ...
    def leaf_residuals(self, output: int, leaves: typing.Any) -> list[tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]]:
        ...
    def set_row_segments(self, segments: typing.Any) -> None:
        ...
    @property
    def usable_features(self) -> numpy.typing.NDArray[numpy.int32]:
        ...
def grow_tree(mapper_of: BinnedMatrix, root: typing.Callable[[bool], typing.Any], expand: typing.Callable[[typing.Any, list[typing.Any]], typing.Any], scale_g: float, scale_h: float, count_bits: int, features: list[int], params: dict[str, typing.Any], batch: int) -> tuple[dict[str, typing.Any], numpy.typing.NDArray[numpy.int32]]:
    ...
def fixed_point(max_abs_g: float, max_abs_h: float, rows: int) -> tuple[float, float, int]:
    ...
def hist_narrow(hist: numpy.typing.NDArray[numpy.int64]) -> numpy.typing.NDArray[numpy.uint8]:
    """Histograms (..., 2) int64, narrowed exactly for the wire (hist_add_narrow reads them)."""
    ...
def hist_add_narrow(total: numpy.typing.NDArray[numpy.int64], packed: numpy.typing.NDArray[numpy.uint8]) -> None:
    """Adds narrowed histograms (from hist_narrow) into `total` in place, exactly."""
    ...
def sample_features(usable: list[int], colsample: float, seed: int, iteration: int, output: int) -> list[int]:
    ...
def sample_row_indices(n: int, sample_rows: int, seed: int) -> numpy.typing.NDArray[numpy.int64]:
    ...
def objective_init_score(params: dict[str, typing.Any], label: typing.Any, weight: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
    ...
def objective_renews_leaves(params: dict[str, typing.Any]) -> bool:
    ...
def robust_leaf_value(params: dict[str, typing.Any], residuals: typing.Any, weights: typing.Any, output: typing.SupportsInt | typing.SupportsIndex = 0) -> float:
    ...
class Scorer:
    def predict(self, X: typing.Any, n_threads: typing.SupportsInt | typing.SupportsIndex) -> typing.Any:
        """
        init_score + the trees' margins of X (2-D float32 / float64 of the forest's width), then the link when the scorer was made for 'value'; None for any other X.
        """
class Forest:
    def __init__(self, trees: list[typing.Any], tree_output: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], num_outputs: typing.SupportsInt | typing.SupportsIndex, num_features: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def predict(self, X: numpy.ndarray, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, init_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], objective: str, num_class: typing.SupportsInt | typing.SupportsIndex, transform: bool, n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict_columns(self, columns: list[typing.Any], tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, init_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], objective: str, num_class: typing.SupportsInt | typing.SupportsIndex, transform: bool, n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict_contrib(self, X: numpy.ndarray, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, init_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict_leaf(self, X: numpy.ndarray, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int32]:
        ...
    def predict_raw(self, X: numpy.ndarray, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, out: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def scorer(self, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, init_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], objective: str, num_class: typing.SupportsInt | typing.SupportsIndex, transform: bool) -> Scorer:
        """
        A Scorer: predict(X, ...) with these arguments fixed, for calls of a few rows.
        """
    def set_kernel(self, name: str) -> None:
        """
        Choose this forest's rank-coded kernels: 'auto' and 'bitvector-avx512' (batches: the AVX-512 row-mask kernel, or the AVX2 bit-vector kernel where the CPU lacks AVX-512, trees of more than 256 leaves walked on two-level nodes; few rows: the AVX-512 QuickScorer for trees of at most 64 leaves on at most 64 features, else the AVX2 tree lock step; the default), 'bitvector-avx2' (batches: the AVX2 bit-vector kernel; few rows: the AVX2 tree lock step), 'lockstep-avx2' (batches walk two-level nodes; few rows: the AVX2 tree lock step) or 'super' (no AVX2: batches walk two-level nodes, few rows the float walk); forests whose every tree is oblivious (symmetric) are scored under 'auto' by the oblivious predictor (AVX-512, else AVX2, else portable; 'oblivious-avx2' and 'oblivious-portable' cap its instruction set). Each SIMD kernel needs the CPU's AVX2 (AVX-512) and the forest's layout. Other forests are not affected; kernel / single_row_kernel say what runs.
        """
    @property
    def columns_kernel(self) -> bool:
        ...
    @property
    def has_special_splits(self) -> bool:
        ...
    @property
    def kernel(self) -> str:
        ...
    @property
    def kernel_choice(self) -> str:
        """
        The name set_kernel was given ('auto' unless changed).
        """
    @property
    def single_row_kernel(self) -> str:
        ...
    @property
    def max_depth(self) -> int:
        ...
    @property
    def num_features(self) -> int:
        ...
    @property
    def num_outputs(self) -> int:
        ...
    @property
    def num_trees(self) -> int:
        ...
class DeviceArray:
    def get(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        copy to a numpy array
        """
    @property
    def __cuda_array_interface__(self) -> dict[str, typing.Any]:
        ...
    @property
    def shape(self) -> tuple[typing.Any, ...]:
        ...
class CudaForest:
    def __init__(self, forest: Forest) -> None:
        ...
    def predict(self, X: numpy.ndarray, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, init_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], transform: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict_device(self, ptr: typing.SupportsInt | typing.SupportsIndex, typestr: str, shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], strides: typing.Any, stream: typing.SupportsInt | typing.SupportsIndex, tree_begin: typing.SupportsInt | typing.SupportsIndex, tree_end: typing.SupportsInt | typing.SupportsIndex, init_score: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], transform: typing.SupportsInt | typing.SupportsIndex) -> DeviceArray:
        ...
    @property
    def device(self) -> int:
        ...
    @property
    def num_outputs(self) -> int:
        ...
def binned_allocate(rows: typing.SupportsInt | typing.SupportsIndex, edges: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float32]], num_cats: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> BinnedMatrix:
    ...
def binned_fill_columns(matrix: BinnedMatrix, row_offset: typing.SupportsInt | typing.SupportsIndex, columns: collections.abc.Sequence[numpy.ndarray], n_threads: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Bins one batch of columns into rows [row_offset, row_offset + batch rows).
    """
def quantized_bin_bytes(rows: typing.SupportsInt | typing.SupportsIndex, levels: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Bytes per histogram bin the quantized builder uses for a node of this many rows.
    """
def build_histogram(data: BinnedMatrix, rows: typing.Annotated[numpy.typing.ArrayLike, numpy.uint32], g: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], h: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], count_bits: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex, levels: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[numpy.typing.NDArray[numpy.uint32], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]]:
    ...
def cuda_available() -> tuple[bool, str]:
    """
    (available, reason): whether device='cuda' can run here, and why not
    """
def fit_bin_edges(X: numpy.ndarray, max_bin: typing.SupportsInt | typing.SupportsIndex, sample_rows: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex, kernel: str = 'auto') -> list[typing.Any]:
    """
    Quantile bin edges per column (list of float32 arrays).
    """
def fit_bin_edges_columns(columns: collections.abc.Sequence[numpy.ndarray], num_cats: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], max_bin: typing.SupportsInt | typing.SupportsIndex, sample_rows: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex, kernel: str = 'auto') -> list[typing.Any]:
    """
    Quantile bin edges of each column (empty for categorical columns, num_cats >= 0).
    """
def lookup_bins(values: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], edges: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.int32]:
    """
    Bins of values through the table lookup used for large matrices (tests).
    """
def profile_avx512_available() -> bool:
    """
    Whether this CPU runs profile_numeric's AVX-512 path.
    """
def profile_numeric(columns: list[typing.Any], rows: typing.SupportsInt | typing.SupportsIndex, edges: list[typing.Any], extra_edges: list[typing.Any], fine_bins: typing.SupportsInt | typing.SupportsIndex, sample_rows: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex, kernel: str = 'auto') -> list[typing.Any]:
    """
    Profiles 1-D numeric columns in one pass: list of dicts (edges, counts, null/inf counts, min, max, exact sums as two's-complement bytes scaled by 2^exact_sum[_sq]_scale_bits).
    """
def ranking_metrics(y_true: typing.Any, y_score: typing.Any, sample_weight: typing.Any = None) -> tuple[float, float]:
    """
    (roc_auc, average_precision) of binary scores in O(n log n).
    """
def query_metric(kind: str, y_true: typing.Any, y_score: typing.Any, bounds: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], k: typing.SupportsInt | typing.SupportsIndex, gain: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], n_jobs: typing.SupportsInt | typing.SupportsIndex = 1) -> numpy.typing.NDArray[numpy.float64]:
    """
    Per-query NDCG@k or MAP@k (k <= 0: every position).
    """
def concordance_index(y_true: typing.Any, risk: typing.Any, sample_weight: typing.Any = None) -> float:
    """
    Harrell's concordance index of right-censored data (negative label = censored).
    """
def objective_gradients(objective: str, scores: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], label: typing.Any, weight: typing.Any, params: dict[str, typing.Any]) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    ...
def transform_scores(objective: str, num_class: typing.SupportsInt | typing.SupportsIndex, raw: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
__version__: str = '0.1.0'
cuda_compiled: bool = True
exact_sum_scale_bits: int = 1152
exact_sum_sq_scale_bits: int = 2208
openmp: bool = True
