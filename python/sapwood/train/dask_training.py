"""Training on Dask: ``sapwood.dask.train`` and the Dask estimators (``pip install sapwood[dask]``).

The model equals single-machine training's on the same rows, parameters and seed, bit for bit,
however the rows are partitioned and whichever workers hold them. What makes that hold:

- **Bin edges** are fitted on the rows single-machine training would sample
  (``_core.sample_row_indices``: the same seeded draw over global row numbers); each worker
  sends only those rows' values. Category dictionaries come from exact category counts summed
  over partitions, ordered as ``Dataset`` orders them.
- **Histograms** are integer (fixed-point) sums, so the sum over workers equals the
  single-machine histogram exactly, in any order. The leader (one worker's actor) adds them up
  and runs the very C++ growth loop single-machine training runs (``_core.grow_tree`` over
  ``GrowTree``), so every split decision is the same.
- **Fixed-point scales** come from the largest |gradient| and |hessian| over all workers;
  **row and column samples** are drawn on global row numbers and the round counter.
- **Starting scores and metrics** use the same serial sums: the labels (and weights) travel to
  the coordinator once, and validation margins each round (what the metrics read).

Each worker keeps its partitions as bin codes (uint8/uint16), labels and scores (a
``_core.Trainer``) and its validation rows; raw feature values do not leave the workers except
the bin-edge sample. Partitions are cut so that every worker trains on about n / W rows (a round
waits for the slowest). Growth is leaf-wise with histograms fetched in batches: one round trip
to the workers expands the best open leaves together (``batch`` of them), so Dask's
per-message cost is paid per batch, not per leaf. The round trips start from the leader, a
worker's actor that also computes its own share (its histograms never travel; its peers' arrive
narrowed to the bytes their sums need, through a handler on each peer's Dask server, which costs
about a third of an actor call); the client makes one call per round and runs the metrics and
callbacks (docs/distributed.md has the figures).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from .. import _core, objectives
from .._groups import bounds_from_qid
from .._params import core_params, resolve_interactions, resolve_monotone, resolve_params
from ..dataset import check_label_weight, kept_categories, ordered_target_stats
from ..errors import DataError, ParameterError, SapwoodError
from ..frame.categorical import frequency_order
from ..frame.columns import encode_for_schema, frame_columns
from ..metrics import needs_groups
from ..model.booster import Booster
from ..model.builder import ModelBuilder
from ..model.provenance import (
    FINGERPRINT_BLOCK_ROWS,
    column_blocks,
    merge_fingerprint,
    provenance_with,
)
from .callbacks import TrainingCallback
from .training import _class_weighted, _initial_model, _metrics_for, boost_rounds

__all__ = ["train", "TrainWorker", "DaskTrainingError"]

_LABEL, _WEIGHT, _INIT = "__sapwood_label__", "__sapwood_weight__", "__sapwood_init_score__"
_GROUP = "__sapwood_group__"
_SPECIAL = (_LABEL, _WEIGHT, _INIT, _GROUP)
# What the last train() call measured: round trips to the workers and the seconds they took
# (benchmarks read it; see docs/distributed.md).
_LAST_RUN: dict[str, Any] = {}
_PHASES: dict[str, Any] = {}
_STEPS: dict[str, float] = {}  # the setup's steps, seconds each (benchmarks)
_LAST_MARK = [0.0]


def _mark(step: str) -> None:
    """Adds the seconds since the last mark to the setup step `step` (_LAST_RUN["steps"])."""
    now = time.perf_counter()
    _STEPS[step] = _STEPS.get(step, 0.0) + now - _LAST_MARK[0]
    _LAST_MARK[0] = now
# Leaves expanded per round trip. Measured on 500k x 32 rows, 63 leaves: 8 needs 12.9 round
# trips a tree and fetches 1% more leaves than are picked; 63 needs 10.6 and fetches 24% more.
_DEFAULT_BATCH = 8
# The leader's extra share of rows, as a fraction of n / W (_even_rows; negative: a smaller
# share), to hide the peers' replies behind the leader's own work: at equal shares the leader
# waits for the peer's reply in transit. Quiet runs of the benchmark (2M x 32, 100 rounds, 2
# workers, alternated): 0 took 21.74 / 22.02 / 22.74 / 23.42 s with the leader waiting 3.6-4.9 s,
# 0.1 took 21.21 / 21.40 / 21.63 s waiting 2.2-2.7 s (0.15 under load: 0.6-1.6 s).
_LEAD_EXTRA = 0.1
# Peers send their histograms narrowed (_core.hist_narrow): 25% fewer bytes on the benchmark.
_NARROW = True
# How the leader calls its peers: "rpc" (a handler on each peer's worker, through Dask's comms;
# an empty round trip 0.6 ms) or "actor" (actor calls on the peers' event loops; 2.1-2.3 ms);
# both measured in benchmarks/compare/dask_messages.py.
_COMMS = "rpc"
# Dask arrays reach the workers as numpy blocks (_ArrayPart) instead of pandas frames
# (benchmarks: --array 0 for the frame path).
_ARRAY_PATH = True


class DaskTrainingError(SapwoodError, RuntimeError):
    """A worker failed or left during distributed training (the model was not finished)."""


class _ArrayPart:
    """One row block of a Dask array on a worker: the features as the numpy block itself and
    the label / weight / init-score / group blocks beside it, under the reserved names.

    The array path keeps Dask arrays as numpy end to end (binning, labels, the edge sample):
    turning each block into a pandas frame (``dd.from_dask_array``) was the setup's largest
    step (docs/distributed.md). Its columns go through frame_columns like a frame's, so the
    values and dtypes are the same."""

    __slots__ = ("x", "specials")

    def __init__(self, x: np.ndarray, specials: dict[str, np.ndarray | None]) -> None:
        self.x = x
        self.specials = specials

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __sizeof__(self) -> int:  # what Dask reports as the partition's bytes (placement)
        return int(self.x.nbytes) + sum(int(v.nbytes) for v in self.specials.values()
                                        if v is not None)

    def rows(self, start: int, stop: int) -> _ArrayPart:
        return _ArrayPart(self.x[start:stop], {k: None if v is None else v[start:stop]
                                              for k, v in self.specials.items()})


def _array_part(x: np.ndarray, label: Any, weight: Any, init: Any, group: Any) -> _ArrayPart:
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"data must be 2-D (rows x features), got a {x.ndim}-D block")
    specials: dict[str, np.ndarray | None] = {}
    for name, v in ((_LABEL, label), (_WEIGHT, weight), (_INIT, init), (_GROUP, group)):
        if v is not None:
            v = np.asarray(v)
            v = v[:, 0] if v.ndim == 2 and v.shape[1] == 1 else v
        specials[name] = v
    return _ArrayPart(x, specials)


_CHUNK_BYTES = 4 << 20  # _bin_tiles' buffer (tests make it small: a chunk of one fingerprint block)


def _bin_tiles(binned: Any, blocks: list[np.ndarray], runs: list[list[int]], bounds: list[int],
               n_total: int, threads: int
               ) -> list[tuple[dict[int, bytes], dict[int, list[tuple[int, bytes]]]]]:
    """Bins row-major float blocks (the array path) and takes their fingerprint blocks, a
    chunk of rows at a time: each chunk is transposed into one reused column-major buffer (a
    tile of about 512 KiB at a time, so the tile stays in cache while its columns are
    written), whose rows are contiguous feature columns for column_blocks and
    binned_fill_columns. A gather per column out of the row-major blocks read every block once
    per feature, and a whole column-major copy touched 128 MiB of fresh pages per worker on the
    benchmark (docs/distributed.md). Chunks end on global multiples of the fingerprint's block
    rows, so the digests and cut pieces are those of whole columns. runs: (local start, global
    start) of each run of globally contiguous rows; bounds: the runs' local starts and the end.
    """
    m = int(blocks[0].shape[1])
    dtype = np.result_type(*blocks)  # float32, or float64 as is (binning rounds it on read)
    fb = FINGERPRINT_BLOCK_ROWS
    chunk = fb * max(1, _CHUNK_BYTES // (fb * m * dtype.itemsize))
    tile = max(256, (1 << 19) // max(1, m * dtype.itemsize))
    buf = np.empty((m, chunk), dtype=dtype)
    starts = np.cumsum([0] + [int(b.shape[0]) for b in blocks]).tolist()
    out: list[tuple[dict[int, bytes], dict[int, list[tuple[int, bytes]]]]] = [
        ({}, {}) for _ in range(m)]
    for ri, (lo, g) in enumerate(runs):
        gend = g + bounds[ri + 1] - lo
        gc = g
        while gc < gend:
            ge = min(gend, (gc // chunk + 1) * chunk)
            a, b = lo + gc - g, lo + ge - g  # local rows of this chunk
            i = max(0, int(np.searchsorted(starts, a, side="right")) - 1)
            at = a
            while at < b:  # the chunk's rows, from one or more blocks
                s0 = starts[i]
                hi = min(b, s0 + int(blocks[i].shape[0]))
                for r in range(at, hi, tile):
                    r1 = min(hi, r + tile)
                    buf[:, r - a:r1 - a] = blocks[i][r - s0:r1 - s0].T
                at = hi
                i += 1
            cols = [buf[j, :b - a] for j in range(m)]
            for j, col in enumerate(cols):
                got, pcs = column_blocks(col, gc, n_total)
                out[j][0].update(got)
                for blk, piece in pcs.items():
                    out[j][1].setdefault(blk, []).append(piece)
            _core.binned_fill_columns(binned, a, cols, threads)
            gc = ge
    return out


# ---------------------------------------------------------------------------- worker side
class TrainWorker:
    """What one Dask worker keeps during a training run (a Dask actor on that worker).

    Created with this worker's partitions (pandas DataFrames: features plus the label, weight
    and init-score columns under reserved names; or, for Dask arrays, _ArrayParts: the numpy
    blocks); after ``setup`` only their bin codes, labels and scores are kept, and the raw
    partitions are dropped.
    """

    def __init__(self, parts: list[Any], part_ids: list[int],
                 valid: dict[int, list[tuple[int, Any]]], features: list[str],
                 is_cat: list[bool]) -> None:
        self._raw: list[Any] | None = list(parts)
        self._ids = list(part_ids)
        self._valid_raw: dict[int, list[tuple[int, Any]]] | None = dict(valid)
        self._features = list(features)
        self._is_cat = list(is_cat)
        self.trainer: Any = None
        self._valid: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        self._k = 1
        self._threads = 1
        self._profile: Any = None
        self._busy = 0.0
        self._pred: np.ndarray = np.empty(0)
        self._const: np.ndarray = np.zeros(1)
        self._offsets_kept: np.ndarray | None = None
        self._nonempty: list[int] = []
        self._segments: list[tuple[int, int]] = []
        self._engine: _DaskRounds | None = None
        self._narrow = False  # a peer: histograms go to the leader narrowed (_core.hist_narrow)
        with contextlib.suppress(ImportError, ValueError):
            from distributed import get_worker

            self._threads = max(1, int(get_worker().state.nthreads))

    @staticmethod
    def _vector(pdf: Any, name: str) -> np.ndarray | None:
        if isinstance(pdf, _ArrayPart):
            v = pdf.specials.get(name)
            return None if v is None else np.asarray(v, dtype=np.float64)
        if name not in pdf.columns:
            return None
        return np.asarray(pdf[name].to_numpy(dtype=np.float64, na_value=np.nan))

    def _specials(self, pdf: Any) -> dict[str, Any]:
        out: dict[str, Any] = {name: self._vector(pdf, name) for name in (_LABEL, _WEIGHT, _INIT)}
        if isinstance(pdf, _ArrayPart):
            g = pdf.specials.get(_GROUP)
            out[_GROUP] = None if g is None else np.asarray(g)
        else:
            out[_GROUP] = np.asarray(pdf[_GROUP].to_numpy()) if _GROUP in pdf.columns else None
        out["rows"] = len(pdf)
        return out

    def _columns(self, pdf: Any, rows: np.ndarray | None = None,
                 features: list[int] | None = None) -> list[Any]:
        """The feature columns of a partition (frame_columns: one set of dtype rules), of the
        given rows and features only when asked. An _ArrayPart's columns are views of its
        numpy block (no pandas frame is built)."""
        if isinstance(pdf, _ArrayPart):
            x = pdf.x if rows is None else pdf.x[rows]
            if features is not None:
                x = x[:, features]
            return frame_columns(x, "data")[0]
        names = self._features if features is None else [self._features[j] for j in features]
        sub = pdf[names]
        return frame_columns(sub if rows is None else sub.iloc[rows], "data")[0]

    def describe(self) -> dict[str, Any]:
        """Rows, category counts, dtypes, labels/weights/offsets of every partition held."""
        assert self._raw is not None and self._valid_raw is not None
        counts: list[Counter[Any]] = [Counter() for _ in self._features]
        out: dict[str, Any] = {"parts": {}, "valid": {}, "dtypes": None}
        for pid, pdf in zip(self._ids, self._raw, strict=True):
            cols = self._columns(pdf)
            if out["dtypes"] is None:
                out["dtypes"] = [(c.dtype, bool(c.is_bool)) for c in cols]
            for j, c in enumerate(cols):
                if self._is_cat[j] and len(pdf):
                    vals, cnts = c.value_counts()
                    for v, n in zip(vals, cnts, strict=True):
                        counts[j][v] += int(n)
            out["parts"][pid] = self._specials(pdf)
        for vid, parts in self._valid_raw.items():
            out["valid"][vid] = {pid: self._specials(pdf) for pid, pdf in parts}
        out["counts"] = [list(c.items()) if self._is_cat[j] else None
                         for j, c in enumerate(counts)]
        return out

    def sample(self, picks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The numeric feature values (float32; NaN for categorical features) of the sampled
        rows of each partition (local row numbers, ascending)."""
        assert self._raw is not None
        out: dict[int, np.ndarray] = {}
        for pid, pdf in zip(self._ids, self._raw, strict=True):
            rows = picks.get(pid)
            if rows is None or rows.size == 0:
                continue
            cols = self._columns(pdf, rows)
            m = np.full((rows.size, len(cols)), np.nan, dtype=np.float32)
            for j, c in enumerate(cols):
                if not self._is_cat[j]:
                    m[:, j] = c.numeric()
            out[pid] = m
        return out

    def codes(self, features: list[int], categories: list[list[Any]]) -> dict[int, np.ndarray]:
        """Category codes (float32, NaN = missing) of the given features, per partition."""
        assert self._raw is not None
        out: dict[int, np.ndarray] = {}
        for pid, pdf in zip(self._ids, self._raw, strict=True):
            if not len(pdf):
                continue
            cols = self._columns(pdf, features=features)
            out[pid] = np.stack([np.asarray(c.codes(cats), dtype=np.float32)
                                 for c, cats in zip(cols, categories, strict=True)], axis=1)
        return out

    def profile_features(self, fine_edges: dict[str, np.ndarray],
                         categorical: list[str]) -> Any:
        """The monitoring profile of this worker's rows (features only), on the given edges."""
        from ..monitoring.profile import Profile

        assert self._raw is not None
        prof = None
        for pdf in self._raw:
            if isinstance(pdf, _ArrayPart):  # the profile reads frames (one per partition)
                import pandas as pd

                pdf = pd.DataFrame(pdf.x, columns=self._features, copy=False)
            part = Profile.from_data(pdf, edges_from=fine_edges, categorical=categorical,
                                     columns=self._features, n_jobs=self._threads)
            prof = part if prof is None else prof.merge(part)
        return prof

    def setup(self, edges: list[np.ndarray], num_cats: list[int],
              categories: list[list[Any] | None], params: dict[str, Any],
              global_start: dict[int, int], const: np.ndarray, k: int,
              schema: list[dict[str, Any]],
              class_factor: tuple[np.ndarray, np.ndarray] | None,
              n_total: int, profile_edges: dict[str, np.ndarray] | None,
              categorical: list[str],
              ts_values: dict[int, dict[int, np.ndarray]],
              groups: np.ndarray | None,
              base_trees: list[dict[str, np.ndarray]] | None = None,
              first_round: int = 0) -> tuple[list[int], list[Any]]:
        """Bins the partitions (dropping the raw frames), creates the Trainer and the starting
        scores; encodes the validation partitions; profiles the features on `profile_edges`
        (the reference profile's, when one is made). Returns the usable features here and the
        fingerprint's column blocks. base_trees: an initial model's trees (grown on these
        very bins), added to the starting scores as its training added them; first_round: its
        number of rounds (the round counter the samples are drawn from)."""
        assert self._raw is not None and self._valid_raw is not None
        self._profile = None if profile_edges is None or not any(len(p) for p in self._raw) \
            else self.profile_features(profile_edges, categorical)
        self._const = np.asarray(const, dtype=np.float64)
        self._k = k
        m = len(self._features)
        pieces: list[list[np.ndarray]] = [[] for _ in range(m)]
        labels: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        offsets: list[np.ndarray | None] = []
        segments: list[tuple[int, int]] = []
        self._nonempty = []
        ts_pieces: dict[int, list[np.ndarray]] = {}
        # numpy blocks of floats (the array path, no categories): transposed tile by tile into
        # one column-major matrix (below) instead of gathering each column out of the
        # row-major blocks, which reads every block once per feature
        blocks_of = [pdf.x for pdf in self._raw if isinstance(pdf, _ArrayPart) and len(pdf)]
        tiled = len(blocks_of) == sum(1 for pdf in self._raw if len(pdf)) and all(
            b.dtype in (np.float32, np.float64) and b.dtype.isnative for b in blocks_of) and \
            all(c is None for c in categories) and not any(ts_values.values())
        local = 0
        for pid, pdf in zip(self._ids, self._raw, strict=True):
            n = len(pdf)
            if n == 0:
                continue
            cols = [] if tiled else self._columns(pdf)
            for j, c in enumerate(cols):
                cats = categories[j]
                pieces[j].append(c.codes(cats) if cats is not None else c.numeric())
                if j in ts_values.get(pid, {}):
                    ts_pieces.setdefault(j, []).append(ts_values[pid][j])
            lab = self._vector(pdf, _LABEL)
            assert lab is not None
            labels.append(lab)
            w = self._vector(pdf, _WEIGHT)
            if w is not None:
                weights.append(w)
            off = self._vector(pdf, _INIT)
            offsets.append(off)
            segments.append((local, global_start[pid]))
            self._nonempty.append(pid)
            local += n
        self._raw = None
        self.blocks: list[tuple[dict[int, bytes], dict[int, list[tuple[int, bytes]]]]] = []
        if local:
            # the fingerprint's blocks, per run of globally contiguous rows
            runs: list[list[int]] = [list(segments[0])]
            for lo, g in segments[1:]:
                if g - runs[-1][1] == lo - runs[-1][0]:
                    continue  # continues the previous run
                runs.append([lo, g])
            bounds = [r[0] for r in runs] + [local]
            binned = _core.binned_allocate(local, edges, num_cats)
            if tiled:
                self.blocks = _bin_tiles(binned, blocks_of, runs, bounds, n_total, self._threads)
            else:
                cols_all = [np.concatenate(p) if len(p) > 1 else p[0] for p in pieces]
                for col in cols_all:
                    whole: dict[int, bytes] = {}
                    cut: dict[int, list[tuple[int, bytes]]] = {}
                    for ri, (lo, g) in enumerate(runs):
                        got, pcs = column_blocks(col[lo:bounds[ri + 1]], g, n_total)
                        whole.update(got)
                        for b, piece in pcs.items():
                            cut.setdefault(b, []).append(piece)
                    self.blocks.append((whole, cut))
                for j, tp in ts_pieces.items():  # target statistics: binned as numeric values
                    cols_all[j] = np.concatenate(tp) if len(tp) > 1 else tp[0]
                _core.binned_fill_columns(binned, 0, cols_all, self._threads)
                del cols_all
            del pieces, blocks_of
            p = dict(params)
            p["n_jobs"] = self._threads
            label = np.concatenate(labels)
            weight: np.ndarray | None = np.concatenate(weights) if weights else None
            if class_factor is not None:
                keys, factors = class_factor
                f = factors[np.searchsorted(keys, label)]
                weight = f if weight is None else weight * f
            self.trainer = _core.Trainer(binned, label, weight, p)
            if groups is not None:
                self.trainer.set_groups(groups)
            self.trainer.set_row_segments(np.asarray(segments, dtype=np.int64))
            start = np.empty((local, k), dtype=np.float64)
            start[:] = np.asarray(const, dtype=np.float64).reshape(1, k)
            offs = [o for o in offsets if o is not None]
            if offs:
                self._offsets_kept = np.concatenate(offs).reshape(local, -1)
                start += self._offsets_kept
            self._segments = segments
            self.trainer.set_scores(start, np.asarray(const, dtype=np.float64))
            # continued training: the initial model's additions, in its order (bit-identical
            # scores, as single-machine training makes them)
            for i, t in enumerate(base_trees or []):
                self.trainer.add_tree_scores(t, i % k)
            self.trainer.set_iteration(first_round)
        for vid, parts in self._valid_raw.items():
            enc = []
            for pid, pdf in parts:
                x = encode_for_schema(pdf[self._features], schema, "valid set")
                s = np.empty((len(pdf), k), dtype=np.float64)
                s[:] = np.asarray(const, dtype=np.float64).reshape(1, k)
                off = self._vector(pdf, _INIT)
                if off is not None:
                    s += off.reshape(len(pdf), -1)
                if base_trees and len(pdf):
                    _core.Forest(base_trees, np.arange(len(base_trees), dtype=np.int32) % k, k,
                                 m).predict_raw(x, 0, len(base_trees), s, self._threads)
                enc.append((pid, x, s))
            self._valid[vid] = enc
        self._valid_raw = None
        usable = [] if self.trainer is None else [int(f) for f in self.trainer.usable_features]
        blocks, self.blocks = self.blocks, []
        return usable, blocks

    # -- one round
    def busy_seconds(self) -> float:
        """Seconds this worker spent in its training calls (benchmarks: busy vs waiting)."""
        return self._busy

    def begin_round(self) -> tuple[np.ndarray, np.ndarray, int]:
        if self.trainer is None:
            return np.zeros(self._k), np.zeros(self._k), 0
        mg, mh, rows = self.trainer.begin_round()
        return mg, mh, int(rows)

    def tree_root(self, k: int, scale_g: float, scale_h: float, bits: int,
                  build: bool) -> tuple[int, int, np.ndarray | None]:
        if self.trainer is None:
            return 0, 0, None
        t0 = time.perf_counter()
        self.trainer.begin_tree(k, scale_g, scale_h, bits)
        g, hc, hist = self.trainer.root(build)
        if self._narrow and hist is not None:
            hist = _core.hist_narrow(hist)
        self._busy += time.perf_counter() - t0
        return int(g), int(hc), hist

    def expand(self, reqs: np.ndarray, cat_sizes: np.ndarray,
               cat_bits: np.ndarray) -> np.ndarray | None:
        """Expands the requested leaves; returns the histograms asked for. The requests'
        category bitsets come packed (sizes, then all words in one array): one message frame
        instead of one per request, which Dask's serialisation charges for."""
        if self.trainer is None:
            return None
        t0 = time.perf_counter()
        cats = np.split(cat_bits, np.cumsum(cat_sizes)[:-1]) if len(cat_sizes) else []
        out: np.ndarray = self.trainer.expand(reqs, cats)
        if self._narrow and out.size:
            out = _core.hist_narrow(out)
        self._busy += time.perf_counter() - t0
        return out

    def leaf_residuals(self, k: int, leaves: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.trainer is None:
            return [(np.empty(0), np.empty(0)) for _ in range(len(leaves))]
        return list(self.trainer.leaf_residuals(k, leaves))

    def finish_tree(self, tree: dict[str, np.ndarray], k: int, leaves: np.ndarray,
                    round_trees: list[dict[str, np.ndarray]] | None,
                    num_features: int) -> dict[int, list[tuple[int, np.ndarray]]] | None:
        """Training scores take the tree; after the round's last tree (round_trees given) the
        round ends and the validation margins are updated and returned."""
        if self.trainer is not None:
            self.trainer.finish_tree(tree, k, leaves)
        if round_trees is None:
            return None
        if self.trainer is not None:
            self.trainer.end_round()
        if not self._valid:
            return {}
        kk = self._k
        forest = _core.Forest(round_trees, np.arange(kk, dtype=np.int32), kk, num_features)
        out: dict[int, list[tuple[int, np.ndarray]]] = {}
        for vid, parts in self._valid.items():
            out[vid] = []
            for pid, x, s in parts:
                if len(s):
                    forest.predict_raw(x, 0, kk, s, self._threads)
                out[vid].append((pid, s))
        return out

    def step(self, finish: tuple[Any, ...], root: tuple[Any, ...] | None,
             next_round: bool) -> dict[str, Any]:
        """finish_tree, then either the next tree's root (root given) or, after the round's
        last tree, the next round's start (its gradient maxima): one round trip for both."""
        t0 = time.perf_counter()
        out: dict[str, Any] = {"valid": self.finish_tree(*finish), "root": None, "begin": None}
        if root is not None:
            out["root"] = self.tree_root(*root)
        if next_round:
            out["begin"] = self.begin_round()
        self._busy += time.perf_counter() - t0
        return out

    # -- the leader: one worker runs the growth loop (see _DaskRounds), so its own histograms
    #    never travel and the client makes one call per round
    def narrow_replies(self, on: bool) -> None:
        """Histograms leave this worker narrowed (a peer of the leader): the fewest whole bytes
        per block of slots that hold its exact integer sums (docs/distributed.md)."""
        self._narrow = bool(on)

    def serve(self, token: str, narrow: bool, address: str) -> None:
        """Makes this worker a peer of a leader that calls it through a handler on this
        worker's Dask server (``_serve``) instead of actor calls: an empty round trip costs
        about a third of an actor call's (``benchmarks/compare/dask_messages.py``). `address`:
        this worker's."""
        self._narrow = bool(narrow)
        self._token = token
        _SERVED[token] = self
        _worker_at(address).handlers.setdefault(_HANDLER, _serve)

    def lead(self, peers: list[tuple[str, Any]], name: str, edges: list[np.ndarray],
             num_cats: list[int], p: dict[str, Any], cp: dict[str, Any], usable: list[int],
             k: int, num_features: int, valid_rows: list[list[tuple[int, int]]], batch: int,
             robust: bool, first_round: int = 0, narrow: bool = True) -> None:
        """Makes this worker the leader: it grows the trees from its own histograms and those
        of `peers` (the other workers' actors)."""
        mapper_of = _core.binned_allocate(0, edges, num_cats)
        # The peers narrow their histograms for the wire when this worker's own (full-width,
        # last) answer can take the sum; a leader without rows gets them at full width.
        narrowed = bool(narrow and self.trainer is not None)
        if _COMMS == "rpc" and peers:
            token = uuid.uuid4().hex
            _call_all_args(peers, "serve", [(token, narrowed, w) for w, _ in peers])
            peers = [(w, _RpcPeer(w, token, name)) for w, _ in peers]
        elif narrow and peers:
            _call_all_args(peers, "narrow_replies", [(narrowed,)] * len(peers))
        # Itself last: a call to every worker sends the peers' messages first, then computes
        # its own share while they compute theirs.
        actors = [*peers, (name, _Local(self))]
        self._engine = _DaskRounds(actors, mapper_of, p, cp, usable, k, num_features,
                                   valid_rows, batch, robust, first_round)

    def lead_round(self) -> tuple[list[dict[str, np.ndarray]],
                                  dict[int, dict[int, np.ndarray]]]:
        """One boosting round grown here: its trees and the valid sets' margins after it."""
        assert self._engine is not None
        trees = self._engine.boost_round()
        return trees, self._engine.last_valid

    def lead_stats(self) -> dict[str, Any]:
        """The leader's round trips to the workers (itself included) and their seconds."""
        e = self._engine
        assert e is not None
        return {"calls": e.calls, "call_seconds": e.call_seconds, "expansions": e.expansions,
                **e.timing}

    def predictions(self, trees: list[dict[str, np.ndarray]] | None, objective: str,
                    num_class: int) -> np.ndarray | None:
        """The model's predictions on this worker's rows: from the training scores, or (trees
        given: an early-stopped model's first rounds) from margins recomputed on the bin codes
        in the order predict adds them up."""
        if self.trainer is None:
            return None
        if trees is not None:
            n = len(self.trainer.scores())
            start = np.empty((n, self._k), dtype=np.float64)
            start[:] = self._const.reshape(1, self._k)
            if self._offsets_kept is not None:
                start += self._offsets_kept
            self.trainer.set_scores(start, self._const)
            for i, t in enumerate(trees):
                self.trainer.add_tree_scores(t, i % self._k)
        raw = np.ascontiguousarray(self.trainer.scores())
        _core.transform_scores(objective, num_class, raw, self._threads)
        self._pred = raw[:, 0] if raw.shape[1] == 1 else raw
        return None

    def prediction_sample(self, picks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """The predictions (after predictions()) at the sampled rows of each partition."""
        out: dict[int, np.ndarray] = {}
        if self.trainer is None:
            return out
        starts = {pid: lo for pid, (lo, _) in zip(self._nonempty, self._segments, strict=True)}
        for pid, rows in picks.items():
            if rows.size:
                out[pid] = self._pred[starts[pid] + rows]
        return out

    def profile_predictions(self, edges: dict[str, np.ndarray]) -> Any:
        """This worker's reference profile: its features' (from setup) and its predictions'."""
        import pandas as pd

        from ..monitoring.profile import Profile

        if self.trainer is None or self._profile is None:
            return None
        n = int(self._pred.shape[0])
        pp = Profile.from_data(pd.DataFrame(index=range(n)), edges_from=edges,
                               predictions=self._pred, columns=[], n_jobs=self._threads)
        return Profile({**self._profile.columns, **pp.columns}, n)

    def training_scores(self) -> np.ndarray | None:
        return None if self.trainer is None else np.asarray(self.trainer.scores())

    def close(self) -> None:
        _SERVED.pop(getattr(self, "_token", ""), None)
        self._engine = None
        self.trainer = None
        self._valid = {}
        self._raw = self._valid_raw = None


# ---------------------------------------------------------------------------- coordinator side
def _client(client: Any) -> Any:
    if client is not None:
        return client
    try:
        from distributed import get_client
    except ImportError:  # pragma: no cover
        raise ParameterError("sapwood.dask.train needs dask.distributed "
                             "(pip install sapwood[dask])") from None
    try:
        return get_client()
    except ValueError:
        raise ParameterError("sapwood.dask.train needs a running dask.distributed Client "
                             "(e.g. Client(LocalCluster()))") from None


def _column(ddf: Any, v: Any, name: str, what: str, row_chunks: Any) -> Any:
    """ddf with `v` (a column name, a Dask Series with ddf's partitions, or - when the data
    came as a Dask array with row chunks `row_chunks` - a 1-D Dask array) as column `name`."""
    import dask.array as da
    import dask.dataframe as dd

    if v is None:
        return ddf
    if isinstance(v, str):
        if v not in ddf.columns:
            raise DataError(f"{what} column {v!r} is not in the data")
        return ddf.rename(columns={v: name})
    if isinstance(v, da.Array):
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1:
            raise DataError(f"{what} must be 1-D, got a {v.ndim}-D Dask array")
        if row_chunks is None:
            raise DataError(f"{what}: give a Dask Series (with the data's partitions) or a "
                            f"column name when the data is a Dask DataFrame")
        if v.shape[0] != sum(row_chunks):
            raise DataError(f"{what} has {v.shape[0]} rows but the data has {sum(row_chunks)}")
        v = dd.from_dask_array(v.rechunk((row_chunks,)), columns=name)
    if isinstance(v, dd.Series):
        if v.npartitions != ddf.npartitions:
            raise DataError(f"{what} has {v.npartitions} partitions but the data has "
                            f"{ddf.npartitions}; give it the data's partitions")
        return ddf.assign(**{name: v})
    raise DataError(f"{what} must be a column name, a Dask Series or a 1-D Dask array "
                    f"(the distributed data's rows), got {type(v)!r}")


def _frame(data: Any, label: Any, weight: Any, init_score: Any,
           feature_names: Sequence[str] | None, group: Any = None) -> Any:
    import dask.array as da
    import dask.dataframe as dd

    row_chunks = None
    if isinstance(data, (str, list, tuple)) or hasattr(data, "__fspath__"):
        src = [str(p) for p in data] if isinstance(data, (list, tuple)) else str(data)
        try:
            data = dd.read_parquet(src)
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read Parquet source {src!r}: {e}") from None
    if isinstance(data, da.Array):
        if data.ndim != 2:
            raise DataError(f"data must be 2-D (rows x features), got a {data.ndim}-D array")
        data = data.rechunk({1: data.shape[1]})  # type: ignore[no-untyped-call]
        row_chunks = data.chunks[0]
        data = dd.from_dask_array(data, columns=[f"f{j}" for j in range(data.shape[1])])
    if not isinstance(data, dd.DataFrame):
        raise DataError(f"data must be a Dask DataFrame, a 2-D Dask array or Parquet path(s), "
                        f"got {type(data)!r}")
    for nm in _SPECIAL:
        if nm in data.columns:
            raise DataError(f"column name {nm!r} is reserved")
    data = _column(data, label, _LABEL, "label", row_chunks)
    data = _column(data, weight, _WEIGHT, "weight", row_chunks)
    data = _column(data, init_score, _INIT, "init_score", row_chunks)
    data = _column(data, group, _GROUP, "group", row_chunks)
    if feature_names is not None:
        feats = [c for c in data.columns if c not in _SPECIAL]
        if len(feature_names) != len(feats):
            raise DataError(f"feature_names has {len(feature_names)} names but data has "
                            f"{len(feats)} columns")
        data = data.rename(columns=dict(zip(feats, [str(f) for f in feature_names],
                                            strict=True)))
    return data


def _array_parts(data: Any, label: Any, weight: Any, init_score: Any, group: Any
                 ) -> list[Any] | None:
    """The partitions of a 2-D Dask array (with label / weight / init-score / group as Dask
    arrays or None) as delayed _ArrayParts: numpy blocks on the workers, no pandas frames.
    None when the inputs are not all arrays (the frame path takes them). Call after _frame,
    which checks the shapes."""
    import dask
    import dask.array as da

    if _ARRAY_PATH is False or not isinstance(data, da.Array) or data.ndim != 2:
        return None
    vs = [label, weight, init_score, group]
    if any(v is not None and not isinstance(v, da.Array) for v in vs):
        return None
    x = data.rechunk({1: data.shape[1]})  # type: ignore[no-untyped-call]
    row_chunks = x.chunks[0]
    blocks = [b for row in x.to_delayed() for b in row]
    per: list[list[Any]] = []
    for v in vs:
        if v is None:
            per.append([None] * len(blocks))
            continue
        if v.ndim == 2:
            v = v.rechunk({1: v.shape[1]})
        v = v.rechunk({0: row_chunks})
        d = v.to_delayed()
        per.append([row[0] for row in d] if v.ndim == 2 else list(d))
    make = dask.delayed(_array_part, pure=True)  # type: ignore[attr-defined]
    return [make(b, *(p[i] for p in per)) for i, b in enumerate(blocks)]


def _placed(client: Any, ddf: Any, balance: bool = True
            ) -> tuple[list[Any], dict[str, list[int]]]:
    """Partition futures (materialised on the workers) and which worker trains on which.
    ddf: a Dask DataFrame, or the delayed partitions themselves (_array_parts).

    A round waits for the slowest worker, so the partitions are spread to even out the bytes
    each worker holds: a partition stays where it is unless its holder would get more than
    its share, then it goes to the least loaded worker (Dask moves it when that worker's
    actor is created). Workers holding nothing of the data still get partitions."""
    from distributed import wait

    futs = client.compute(ddf if isinstance(ddf, list) else ddf.to_delayed())
    wait(futs)  # type: ignore[no-untyped-call]
    _mark("compute_partitions")
    for f in futs:
        if f.status == "error":
            f.result()  # raises the partition's own error
    who = client.who_has(futs)
    holder = []
    for i, f in enumerate(futs):
        holders = sorted(who.get(f.key, ()))
        if not holders:
            raise DaskTrainingError(f"partition {i} is on no worker")
        holder.append(holders[0])
    by_worker: dict[str, list[int]] = {}
    if not balance:
        for i, h in enumerate(holder):
            by_worker.setdefault(h, []).append(i)
        return futs, by_worker
    sizes = client.nbytes([f.key for f in futs], summary=False)
    nbytes = [int(sizes.get(f.key, 0)) for f in futs]
    workers = sorted(client.scheduler_info()["workers"])
    share = sum(nbytes) / max(1, len(workers)) * 1.05
    load = dict.fromkeys(workers, 0)
    for i in sorted(range(len(futs)), key=lambda j: (-nbytes[j], j)):
        w = holder[i] if holder[i] in load and load[holder[i]] + nbytes[i] <= share \
            else min(workers, key=lambda x: (load[x], x))
        load[w] += nbytes[i]
        by_worker.setdefault(w, []).append(i)
    for ids in by_worker.values():
        ids.sort()
    return futs, by_worker


def _rows_of(pdf: Any, start: int, stop: int) -> Any:
    if isinstance(pdf, _ArrayPart):
        return pdf.rows(start, stop)
    return pdf.iloc[start:stop]


def _even_rows(client: Any, futs: list[Any], by_worker: dict[str, list[int]],
               lead_extra: float = 0.0) -> tuple[list[Any], dict[str, list[int]], str | None]:
    """Cuts partitions so that every worker trains on about n / W rows.

    Each round waits for the slowest worker, and whole partitions rarely split evenly (2M rows
    in 7 partitions of 275k and one of 75k leave 1.1M rows on one of two workers: 10% more work
    than an even share). Only the rows an overloaded worker holds beyond its share are cut off
    (the tail of its largest partition) and go to the worker furthest below its share. The
    pieces keep the global row order, so the rows, and the model, are unchanged. Not for data
    with query groups (a cut could split a query).

    With `lead_extra` != 0, one worker, the leader (returned; the one already holding the most
    rows), gets `lead_extra` x n / W rows more than the others (fewer when negative, at least
    none): it computes its own share while its peers' histograms travel to it, so a larger
    share can hide that transfer (docs/distributed.md). Otherwise no leader is named (None)."""
    workers = sorted(client.scheduler_info()["workers"])
    for w in by_worker:
        if w not in workers:
            workers.append(w)
    lens = [int(v) for v in client.gather(client.map(len, futs))]
    n = sum(lens)
    if len(workers) < 2 or n == 0:
        return futs, by_worker, None
    load = {w: sum(lens[i] for i in by_worker.get(w, [])) for w in workers}
    lead = min(workers, key=lambda x: (-load[x], x)) if lead_extra != 0 else None
    even = n / len(workers)
    extra = min(max(lead_extra, -1.0), float(len(workers) - 1)) * even
    target = {w: even + extra if w == lead else even - extra / (len(workers) - 1)
              for w in workers}
    tol = max(1.0, 0.002 * even)
    # per partition: its pieces (start, stop, worker) in row order
    pieces = {i: [(0, lens[i], w)] for w, ids in by_worker.items() for i in ids}
    for w in sorted(workers, key=lambda x: (target[x] - load[x], x)):
        while load[w] - target[w] > tol:
            u = min(workers, key=lambda x: (load[x] - target[x], x))
            want = int(min(load[w] - target[w], target[u] - load[u]))
            if want < 1:
                break
            # the largest piece held by w (first by partition order on ties)
            i, j = max(((i, j) for i, ps in pieces.items() for j, p in enumerate(ps)
                        if p[2] == w and p[1] > p[0]),
                       key=lambda ij: (pieces[ij[0]][ij[1]][1] - pieces[ij[0]][ij[1]][0],
                                       -ij[0]))
            a, b, _ = pieces[i][j]
            take = min(want, b - a)
            pieces[i][j:j + 1] = [(a, b - take, w), (b - take, b, u)] if take < b - a                 else [(a, b, u)]
            load[w] -= take
            load[u] += take
    if all(len(ps) == 1 for ps in pieces.values()):
        return futs, {w: sorted(i for i, ps in pieces.items() if ps[0][2] == w)
                      for w in workers if any(ps[0][2] == w for ps in pieces.values())}, lead
    out: list[Any] = []
    placed: dict[str, list[int]] = {}
    for i in sorted(pieces):
        for a, b, w in pieces[i]:
            if b <= a and len(pieces[i]) > 1:
                continue
            whole = a == 0 and b == lens[i]
            out.append(futs[i] if whole else client.submit(_rows_of, futs[i], a, b, pure=False))
            placed.setdefault(w, []).append(len(out) - 1)
    return out, placed, lead


class _DaskRounds:
    """Rounds grown on the workers, run by the leader (TrainWorker.lead): it asks every worker,
    itself last, for histograms and adds them up."""

    def __init__(self, actors: list[tuple[str, Any]], mapper_of: Any, p: dict[str, Any],
                 cp: dict[str, Any], usable: list[int], k: int, num_features: int,
                 valid_rows: list[list[tuple[int, int]]], batch: int, robust: bool,
                 first_round: int = 0) -> None:
        self.actors, self.mapper_of, self.p, self.cp = actors, mapper_of, p, cp
        self.cp_one = dict(cp, n_jobs=1)
        self.usable, self.k, self.num_features = usable, k, num_features
        self.valid_rows = valid_rows  # per valid set: (partition id, rows), in order
        self.batch, self.robust = batch, robust
        self.iteration = first_round
        self.n_jobs = int(p["n_jobs"])
        self.calls = 0
        self.call_seconds = 0.0
        self._stats: list[Any] | None = None
        self.expansions = 0  # leaves expanded (fetched ahead included)
        self.last_valid: dict[int, dict[int, np.ndarray]] = {}
        # where the leader's time goes (benchmarks): sending the calls and its own share,
        # waiting for the peers, adding histograms up, the growth loop as a whole
        self.timing: dict[str, float] = {"send_local_s": 0.0, "wait_s": 0.0, "sum_s": 0.0,
                                         "grow_s": 0.0, "partition_only_calls": 0,
                                         "received_bytes": 0}

    def _all(self, method: str, *args: Any) -> list[Any]:
        """Calls `method` on every worker's actor at once and waits for all the answers."""
        t0 = time.perf_counter()
        # separate_thread=False: Dask runs the method on the worker's event loop instead of
        # handing it to the actor thread and back (two thread switches saved per call, which
        # cost most when the cores are busy). The growth calls are short and never wait on
        # anything, so blocking the loop for their duration is harmless.
        out = _call_all_args(self.actors, method, [args] * len(self.actors),
                             f"in round {self.iteration}", self.timing, separate_thread=False)
        self.calls += 1
        self.call_seconds += time.perf_counter() - t0
        return out

    def _sum_hist(self, parts: list[Any]) -> np.ndarray | None:
        arrs = [h for h in parts if h is not None]
        if not arrs:
            return None
        # what came over the wire (the last answer is the leader's own)
        self.timing["received_bytes"] += sum(int(h.nbytes) for h in parts[:-1] if h is not None)
        # The leader's own answer (last; fresh from its Trainer, used once) takes the sum in
        # place: no 1 MB copy per round trip. Peers' arrays may be read-only views of the
        # message buffers, and narrowed (uint8, from _core.hist_narrow) when the leader has
        # rows of its own.
        last = arrs[-1]
        if isinstance(last, np.ndarray) and last.dtype == np.int64 and last.flags.writeable \
                and last.flags.c_contiguous:
            total: np.ndarray = last
            rest = arrs[:-1]
        else:  # narrowed ones only arrive alongside the leader's own (TrainWorker.lead)
            i = next(j for j, h in enumerate(arrs) if h.dtype != np.uint8)
            total = np.array(arrs[i], dtype=np.int64, copy=True)
            rest = arrs[:i] + arrs[i + 1:]
        for h in rest:
            if h.dtype == np.uint8:
                _core.hist_add_narrow(total, h)  # exact, in place
            else:
                total += h  # int64: exact (the fixed-point scale keeps every sum below 2**61)
        return total

    def boost_round(self) -> list[dict[str, np.ndarray]]:
        # Round trips are merged where the protocol allows: a tree's last call (scores updated)
        # also fetches the next tree's root, or ends the round and starts the next one
        # (gradients and their maxima), so a round of one tree costs 2 + (expansion batches).
        stats = self._stats if self._stats is not None else self._all("begin_round")
        self._stats = None
        rows = sum(int(s[2]) for s in stats)
        if rows == 0:
            raise DataError(f"round {self.iteration}: the row sample is empty "
                            f"(subsample={self.p['subsample']}); raise subsample")
        fps = []
        for kk in range(self.k):
            max_g = max(float(s[0][kk]) for s in stats)
            max_h = max(float(s[1][kk]) for s in stats)
            fps.append(_core.fixed_point(max_g, max_h, rows))
        build = int(self.p["num_leaves"]) > 1
        trees = []
        prefetched: list[Any] | None = None
        for kk in range(self.k):
            sg, sh, bits = fps[kk]
            features = _core.sample_features(self.usable, float(self.p["colsample_bytree"]),
                                             int(self.p["random_state"]), self.iteration, kk)
            pre = prefetched

            def root(want: bool, kk: int = kk, pre: list[Any] | None = pre) -> tuple[int, int, Any]:
                res = pre if pre is not None and want == build else self._all(
                    "tree_root", kk, *fps[kk], want)
                g = sum(r[0] for r in res)
                hc = sum(r[1] for r in res)
                return g, hc, self._sum_hist([r[2] for r in res]) if want else None

            def expand(reqs: np.ndarray, cats: list[np.ndarray]) -> Any:
                self.expansions += int(reqs.shape[0])
                if not (reqs[:, 3] >= 0).any():
                    self.timing["partition_only_calls"] += 1
                sizes = np.fromiter((c.size for c in cats), dtype=np.int64, count=len(cats))
                bits = np.concatenate(cats) if sizes.any() else np.empty(0, dtype=np.uint32)
                got = self._all("expand", reqs, sizes, bits.astype(np.uint32, copy=False))
                t0 = time.perf_counter()
                total = self._sum_hist(got)
                self.timing["sum_s"] += time.perf_counter() - t0
                return total

            # One thread here: a split search is microseconds, and OpenMP threads spinning
            # at a barrier on the client would take CPU from workers on the same machine.
            t_grow = time.perf_counter()
            tree, leaves = _core.grow_tree(self.mapper_of, root, expand, sg, sh, bits, features,
                                           self.cp_one, self.batch)
            self.timing["grow_s"] += time.perf_counter() - t_grow
            if self.robust:
                per_worker = self._all("leaf_residuals", kk, leaves)
                values = np.asarray(tree["value"]).copy()
                for li, (node, _) in enumerate(leaves):
                    r = np.concatenate([pw[li][0] for pw in per_worker])
                    w = np.concatenate([pw[li][1] for pw in per_worker])
                    if r.size:
                        values[node] = _core.robust_leaf_value(self.cp, r, w, kk)
                tree["value"] = values
            trees.append(tree)
            last = kk == self.k - 1
            nxt = None if last else (kk + 1, *fps[kk + 1], build)
            res = self._all("step", (tree, kk, leaves, trees if last else None,
                                     self.num_features), nxt, last)
            if last:
                merged: dict[int, dict[int, np.ndarray]] = {}
                for r in res:
                    for vid, items in (r["valid"] or {}).items():
                        for pid, sc in items:
                            merged.setdefault(vid, {})[pid] = sc
                self.last_valid = merged
                self._stats = [r["begin"] for r in res]
            else:
                prefetched = [r["root"] for r in res]
        self.iteration += 1
        return trees

    def eval_scores(self, trees: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        return _valid_margins(self.last_valid, self.valid_rows, self.k)


def _valid_margins(got: dict[int, dict[int, np.ndarray]], valid_rows: list[list[tuple[int, int]]],
                   k: int) -> list[np.ndarray]:
    """Each valid set's margins in partition order, from the workers' pieces."""
    out = []
    for vid, rows in enumerate(valid_rows):
        mine = got.get(vid, {})
        pieces = [mine[pid] for pid, n in rows if n > 0]
        out.append(np.concatenate(pieces) if pieces else np.empty((0, k)))
    return out


class _Local:
    """The leader's own TrainWorker behind an actor's face: a method call runs at once and
    returns a finished future (its result, or its error raised by ``result()``)."""

    def __init__(self, worker: TrainWorker) -> None:
        self._worker = worker

    def __getattr__(self, method: str) -> Any:
        fn = getattr(self._worker, method)

        def call(*args: Any, separate_thread: bool = True) -> _Done:
            return _Done(fn, args)
        return call


# Peers answer the leader through one handler on their Dask servers (Worker.handlers), keyed by
# a token per training run; only the growth calls may be made through it.
_HANDLER = "sapwood_train"
_SERVED: dict[str, TrainWorker] = {}
_SERVED_METHODS = frozenset({"begin_round", "tree_root", "expand", "leaf_residuals", "step"})


def _worker_at(address: str) -> Any:
    """The Dask worker at `address` in this process. get_worker() is not enough where several
    workers share a process (LocalCluster(processes=False)): in an actor's thread it may
    return none of them, or another."""
    from distributed import Worker, get_worker

    for w in list(getattr(Worker, "_instances", ())):
        if getattr(w, "address", None) == address:
            return w
    return get_worker()


def _to_serialize() -> Any:
    """Dask's marker for a value its comms serialise (numpy arrays as out-of-band frames)."""
    import importlib

    # the module (the package's `serialize` attribute is a function of the same name)
    return importlib.import_module("distributed.protocol.serialize").to_serialize


def _serve(token: str = "", method: str = "", args: Any = None) -> dict[str, Any]:
    """The peer's side of a leader's call (a Dask handler, run on the worker's event loop as
    the actor calls with separate_thread=False were: the calls are short and never wait).
    Errors travel back as values, raised on the leader."""
    to_serialize = _to_serialize()
    w = _SERVED.get(token)
    try:
        if w is None or method not in _SERVED_METHODS:
            raise DaskTrainingError(f"no training run {token[:8]} to serve {method!r} here "
                                    "(it ended or this worker restarted)")
        return {"ok": to_serialize(getattr(w, method)(*(args or ())))}
    except Exception as e:  # noqa: BLE001 - every error goes back to the leader
        return {"error": to_serialize(e)}


class _RpcPeer:
    """A peer behind an actor's face, called through its worker's ``_serve`` handler with
    Dask's comms (``Worker.rpc``): one hop onto this worker's event loop per call, where an
    actor call takes several (measured in benchmarks/compare/dask_messages.py)."""

    def __init__(self, address: str, token: str, leader: str) -> None:
        self._address, self._token, self._leader = address, token, leader

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any, separate_thread: bool = True) -> _RpcCall:
            import asyncio

            me = _worker_at(self._leader)
            coro = getattr(me.rpc(self._address), _HANDLER)(
                token=self._token, method=method, args=_to_serialize()(args))
            loop = cast(Any, me.loop).asyncio_loop  # the worker's event loop (tornado's)
            return _RpcCall(asyncio.run_coroutine_threadsafe(coro, loop))
        return call


class _RpcCall:
    def __init__(self, future: Any) -> None:
        self._future = future

    def result(self, timeout: float | None = None) -> Any:
        got = self._future.result(timeout=timeout)
        if not isinstance(got, dict) or not ("ok" in got or "error" in got):
            raise DaskTrainingError(f"the peer gave no answer ({type(got).__name__})")
        if "error" in got:
            raise got["error"]
        return got["ok"]


class _Done:
    def __init__(self, fn: Any, args: tuple[Any, ...]) -> None:
        self._error: Exception | None = None
        self._value: Any = None
        try:
            self._value = fn(*args)
        except Exception as e:  # noqa: BLE001 - raised where a remote call's would be
            self._error = e

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class _LeadRounds:
    """The client's engine of boost_rounds when a worker leads: one call per round.

    The leader (a worker's actor) runs _DaskRounds against its peers and itself: the client
    leaves the per-leaf loop, and the leader's own histograms never travel. Callbacks, metrics
    and early stopping still run here after every round."""

    def __init__(self, leader: tuple[str, Any], valid_rows: list[list[tuple[int, int]]],
                 k: int, n_jobs: int, first_round: int = 0) -> None:
        self.leader, self.valid_rows, self.k, self.n_jobs = leader, valid_rows, k, n_jobs
        self.iteration = first_round
        self.calls = 0
        self.call_seconds = 0.0
        self.last_valid: dict[int, dict[int, np.ndarray]] = {}

    def boost_round(self) -> list[dict[str, np.ndarray]]:
        t0 = time.perf_counter()
        trees, self.last_valid = _call_all_args([self.leader], "lead_round", [()],
                                                f"in round {self.iteration}")[0]
        self.calls += 1
        self.call_seconds += time.perf_counter() - t0
        self.iteration += 1
        return list(trees)

    def eval_scores(self, trees: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        return _valid_margins(self.last_valid, self.valid_rows, self.k)


def train(
    params: Mapping[str, Any] | None,
    data: Any,
    label: Any = None,
    weight: Any = None,
    init_score: Any = None,
    group: Any = None,
    *,
    valid_sets: Sequence[Any] = (),
    valid_names: Sequence[str] | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    client: Any = None,
    categorical_features: str | Sequence[str] | None = "auto",
    feature_names: Sequence[str] | None = None,
    batch: int | None = None,
    reference_profile: bool = True,
    init_model: Booster | str | os.PathLike[str] | None = None,
) -> Booster:
    """Train on a Dask cluster; the result is an ordinary Booster on the client.

    data: a Dask DataFrame, a 2-D Dask array (features ``f0, f1, ...``) or Parquet path(s)
    (read by the workers with ``dask.dataframe.read_parquet``). label, weight, init_score: a
    column name of ``data`` or a Dask Series / 1-D Dask array with ``data``'s partitions.
    group (ranking objectives): one query id per row, as a column name or a Dask Series; a
    query's rows must be contiguous and inside one partition.
    valid_sets: Dask DataFrames with the same feature columns and the label (and weight /
    init-score) columns under the same names (when those are given as names), or
    ``(X, y)`` / ``(X, y, weight)`` / ``(X, y, weight, group)`` tuples of Dask collections;
    scored after every round
    with the metrics. Callbacks (early stopping) run here, on the client.
    batch: how many of the best open leaves one round trip to the workers expands (default
    8; any value gives the same model). Larger batches save round trips until the tree's
    depth bounds them, and fetch more leaves that are never picked (docs/distributed.md).

    reference_profile: as in ``sapwood.train``: the monitoring profile of the training
    features and of the model's predictions on them, stored in the model (each worker
    profiles its rows on edges fitted from the same sampled rows; the profiles merge exactly).

    The model file equals that of ``sapwood.train(params, Dataset(df, label, ...))`` on the
    same rows in the same order (``df`` the concatenated partitions, in memory), byte for
    byte, for any partitioning and any number of workers (with ``SOURCE_DATE_EPOCH`` set so
    both record the same creation time). Target statistics (``cat_encoding``) send the codes
    of those features to the client, which computes them over one seeded permutation of all
    rows, as ``Dataset`` does.

    init_model: a Booster (or a model file) to continue boosting from, as in
    ``sapwood.train``; the result holds its trees and ``n_estimators`` more rounds, byte for
    byte what ``sapwood.train(..., init_model=...)`` gives on the same rows. Its trees must have
    been grown on the bins this data gets (the same rows and binning parameters); another
    binning is a ParameterError.
    """
    given = dict(params or {})
    m = given.get("metric")
    if callable(given.get("objective")) or callable(m) or (
            isinstance(m, (list, tuple)) and any(callable(x) for x in m)):
        raise ParameterError("custom objective and metric callables are not supported by "
                             "sapwood.dask.train yet (they would run on the client)")
    p = resolve_params(params)
    if p["use_quantized_grad"]:
        raise ParameterError("use_quantized_grad is not supported by sapwood.dask.train yet "
                             "(train on one machine with sapwood.train, or leave it False)")
    if p["grow_policy"] == "oblivious":
        raise ParameterError("grow_policy='oblivious' is not supported by sapwood.dask.train "
                             "yet; train it with sapwood.train on one machine")
    obj = objectives.get(p["objective"])
    client = _client(client)
    base = None
    valid_sets = list(valid_sets)
    names = list(valid_names) if valid_names is not None else [
        f"valid_{i}" for i in range(len(valid_sets))]
    if len(names) != len(valid_sets):
        raise ParameterError("valid_names must have one name per valid set")
    lname = label if isinstance(label, str) else None
    wname = weight if isinstance(weight, str) else None
    iname = init_score if isinstance(init_score, str) else None
    gname = group if isinstance(group, str) else None
    ddf = _frame(data, label, weight, init_score, feature_names, group)
    arrays = _array_parts(data, label, weight, init_score, group)
    if _LABEL not in ddf.columns:
        raise DataError("sapwood.dask.train needs a label (a column name or a Dask Series)")
    vdfs = []
    for v, name in zip(valid_sets, names, strict=True):
        if isinstance(v, tuple):
            if len(v) not in (2, 3, 4):
                raise DataError(f"valid set {name!r}: give (X, y), (X, y, weight) or "
                                "(X, y, weight, group)")
            vd = _frame(v[0], v[1], v[2] if len(v) > 2 else None, None, feature_names,
                        v[3] if len(v) > 3 else None)
        else:
            vd = _frame(v, lname, wname, iname, feature_names, gname)
        if _LABEL not in vd.columns:
            raise DataError(f"valid set {name!r} has no label column {lname!r}")
        vdfs.append(vd)

    meta_cols, _ = frame_columns(ddf._meta, "data")
    feats = [c for c in meta_cols if c.name not in _SPECIAL]
    if not feats:
        raise DataError("data has zero columns")
    from ..dataset import _resolve_categorical

    is_cat = _resolve_categorical(feats, categorical_features, True)
    if any(is_cat):
        arrays = None  # categories are counted and coded by the frame layer's rules
    features = [c.name for c in feats]
    if init_model is not None:
        # _initial_model reads only the training data's feature names
        base = _initial_model(init_model, p, cast(Any, SimpleNamespace(feature_names=features)))
    for vd, name in zip(vdfs, names, strict=True):
        missing = [f for f in features if f not in vd.columns]
        if missing:
            raise DataError(f"valid set {name!r} lacks feature column(s) {missing[:5]}")

    # -- partitions onto workers, one actor per worker holding any
    t_start = time.perf_counter()
    _STEPS.clear()
    _LAST_MARK[0] = t_start
    futs, by_worker = _placed(client, ddf if arrays is None else arrays)
    lead_worker: str | None = None
    if _GROUP not in ddf.columns:
        futs, by_worker, lead_worker = _even_rows(client, futs, by_worker, _LEAD_EXTRA)
        _mark("even_rows")
    vplaced = [_placed(client, vd) for vd in vdfs]
    _mark("place_valid")
    workers = sorted(set(by_worker) | {w for _, bw in vplaced for w in bw})
    actors: list[tuple[str, Any]] = []
    created: list[Any] = []
    try:
        for w in workers:
            ids = by_worker.get(w, [])
            vparts = {vid: [(pid, vplaced[vid][0][pid]) for pid in bw.get(w, [])]
                      for vid, (_, bw) in enumerate(vplaced)}
            created.append(client.submit(_make_worker, [futs[i] for i in ids], ids, vparts,
                                         features, is_cat, actor=True, workers=[w],
                                         allow_other_workers=False, pure=False))
        actors = [(w, f.result()) for w, f in zip(workers, created, strict=True)]
        _mark("actors")
        _PHASES.clear()
        _PHASES["input"] = "frames" if arrays is None else "arrays"
        _PHASES["place_s"] = time.perf_counter() - t_start
        _PHASES["t0"] = t_start
        del futs, vplaced  # the raw partitions now live only in the actors, until setup
        return _train_on(client, actors, p, obj, features, is_cat, names, callbacks, batch,
                         reference_profile, base, lead_worker)
    finally:
        # Free the workers whatever happened (an error, Ctrl-C): each actor drops its state,
        # then its key is released so the worker forgets it (a traceback holding this frame
        # must not keep the workers' memory).
        for _, a in actors:
            with contextlib.suppress(Exception):
                a.close().result(timeout=30)
        with contextlib.suppress(Exception):
            client.cancel(created, force=True)
        actors.clear()


# Profile.from_data's defaults, which single-machine training's reference profile uses.
_PROFILE_SAMPLE_ROWS = 200_000
_PROFILE_SEED = 0


class _EdgesOf:
    """A booster-like source of bin edges for Profile.from_data (merged into fitted edges)."""

    def __init__(self, names: list[str], edges: list[np.ndarray]) -> None:
        self.feature_names, self.bin_edges = names, edges


def _reference_profile(actors: list[tuple[str, Any]], booster: Booster, pidx: np.ndarray,
                       sampled: Any) -> Any:
    """The training data's reference profile, as single-machine training stores it: the
    features (profiled on each worker during setup) and the model's predictions (the
    early-stopped model's when it stopped early), on edges fitted on the same sampled rows."""
    import pandas as pd

    from ..monitoring.profile import Profile

    trees = None
    if booster.best_iteration and booster.best_iteration < booster.num_rounds:
        k = booster.num_outputs
        trees = [dict(t) for t in booster.trees()][: booster.best_iteration * k]
    _call_all(actors, "predictions", trees, booster.objective, booster.num_class)
    ps = sampled("prediction_sample", pidx)
    sample = np.concatenate(ps) if ps else np.empty(0)
    fitted = Profile.from_data(pd.DataFrame(index=range(sample.shape[0])), predictions=sample,
                               columns=[], sample_rows=_PROFILE_SAMPLE_ROWS, seed=_PROFILE_SEED)
    edges = {name: np.asarray(c.edges) for name, c in fitted.columns.items()}  # type: ignore[union-attr]
    merged = None
    for prof in _call_all(actors, "profile_predictions", edges):
        if prof is not None:
            merged = prof if merged is None else merged.merge(prof)
    return merged


def _make_worker(parts: list[Any], ids: list[int], valid: dict[int, list[tuple[int, Any]]],
                 features: list[str], is_cat: list[bool]) -> TrainWorker:
    return TrainWorker(parts, ids, valid, features, is_cat)


def _call_all(actors: list[tuple[str, Any]], method: str, *args: Any) -> list[Any]:
    return _call_all_args(actors, method, [args] * len(actors))


# How often a worker waiting on another's actor checks that it is still alive (seconds).
_LIVENESS_POLL_S = 2.0


def _result(future: Any, address: str) -> Any:
    """The result of an actor call. On the client this is ``future.result()``; on a worker (the
    leader waiting on a peer) Dask would wait forever for an actor whose worker died (its
    worker-side handle never learns that the actor's key was lost), so the wait checks every
    few seconds that the peer still answers, and a dead one raises OSError."""
    try:
        from distributed import get_worker

        me = get_worker()
    except (ImportError, ValueError):
        return future.result()
    if isinstance(future, _Done):
        return future.result()
    from distributed.utils import sync

    while True:
        try:
            return future.result(timeout=_LIVENESS_POLL_S)
        except TimeoutError:
            sync(me.loop, me.rpc(address).identity, callback_timeout=60)


def _call_all_args(actors: list[tuple[str, Any]], method: str,
                   args: Sequence[tuple[Any, ...]], when: str = "while preparing",
                   timing: dict[str, float] | None = None, **kwargs: Any) -> list[Any]:
    """Calls `method` on every actor (actor i with args[i]) at once; waits for all. A worker
    that fails is a DaskTrainingError naming it, `when` and the call. `timing` (if given)
    adds up the seconds spent sending (and in a local actor's call) and waiting; `kwargs` go
    to every call."""
    t0 = time.perf_counter()
    pending = [(w, getattr(a, method)(*ar, **kwargs))
               for (w, a), ar in zip(actors, args, strict=True)]
    t1 = time.perf_counter()
    out = []
    for w, f in pending:
        try:
            out.append(_result(f, w))
        except SapwoodError:
            raise
        except Exception as e:  # noqa: BLE001 - a worker's death arrives as many types
            raise DaskTrainingError(f"worker {w} failed {when} ({method}): "
                                    f"{type(e).__name__}: {e}") from e
    if timing is not None:
        timing["send_local_s"] += t1 - t0
        timing["wait_s"] += time.perf_counter() - t1
    return out


def _train_on(client: Any, actors: list[tuple[str, Any]], p: dict[str, Any], obj: Any,
              features: list[str], is_cat: list[bool], names: list[str],
              callbacks: Sequence[TrainingCallback], batch: int | None,
              reference_profile: bool, base: Booster | None = None,
              lead_worker: str | None = None) -> Booster:
    desc = _call_all(actors, "describe")
    _mark("describe")
    parts: dict[int, dict[str, Any]] = {}
    dtypes = None
    for d in desc:
        parts.update(d["parts"])
        if dtypes is None and d["dtypes"] is not None:
            dtypes = d["dtypes"]
    order = sorted(parts)
    rows = [int(parts[i]["rows"]) for i in order]
    n = int(sum(rows))
    if n == 0:
        raise DataError("data has zero rows")
    starts = dict(zip(order, np.cumsum([0] + rows[:-1]).tolist(), strict=True))

    def gather(info: dict[int, dict[str, Any]], ids: list[int], name: str) -> np.ndarray | None:
        got = [info[i][name] for i in ids if info[i]["rows"]]
        if not got or got[0] is None:
            return None
        return np.concatenate(got)

    y = gather(parts, order, _LABEL)
    assert y is not None
    w = gather(parts, order, _WEIGHT)
    off = gather(parts, order, _INIT)
    check_label_weight(y, w, off, n)
    obj.check_labels(y, p["num_class"])
    if p["objective"] == "binary" and np.unique(y).size < 2:
        raise DataError(f"binary objective needs both classes; every label is {y[0]:g}")
    k = obj.num_outputs(p["num_class"])
    if off is not None and off.size != n * k:
        raise DataError(f"init_score must have one value per row and output ({k})")
    weight = _class_weighted(p, y, w)
    if obj.name == "cox":
        raise ParameterError("the cox objective is not supported by sapwood.dask.train: its "
                             "risk sets span every row")
    metrics = _metrics_for(p)
    qids = gather(parts, order, _GROUP)
    if obj.name in ("lambdarank", "rank_xendcg") and qids is None:
        raise DataError(f"the {p['objective']} objective needs query groups: group= (a column "
                        "of query ids)")

    # -- categories: exact counts summed over partitions, ordered as Dataset orders them
    m = len(features)
    categories: list[list[Any] | None] = [None] * m
    num_cats = [-1] * m
    specs: list[dict[str, Any]] = []
    ts: list[int] = []  # target-statistics features
    for j in range(m):
        dt, is_bool = dtypes[j] if dtypes is not None else ("float64", False)
        if is_cat[j]:
            total: Counter[Any] = Counter()
            for d in desc:
                for v, c in d["counts"][j] or []:
                    total[v] += int(c)
            vals, counts = frequency_order(list(total.keys()),
                                           np.asarray(list(total.values()), np.int64))
            categories[j] = vals
            num_cats[j] = kept_categories(counts, p["max_bin"], p["cat_min_count"])
            if p["cat_encoding"] == "target_stats" or (
                    p["cat_encoding"] == "auto" and len(vals) > p["cat_ts_min_categories"]):
                ts.append(j)
                num_cats[j] = -1  # trained as a numeric feature: its ordered statistic
                specs.append({"name": features[j], "position": j, "kind": "categorical",
                              "dtype": dt, "categories": list(vals)})
                continue
            specs.append({"name": features[j], "position": j, "kind": "categorical",
                          "dtype": dt, "categories": list(vals[:num_cats[j]])})
        else:
            specs.append({"name": features[j], "position": j,
                          "kind": "bool" if is_bool else "numeric", "dtype": dt})
    if p["cat_encoding"] not in ("native", "auto", "target_stats"):
        raise ParameterError(f"cat_encoding must be 'native', 'target_stats' or 'auto', "
                             f"got {p['cat_encoding']!r}")
    # Ordered target statistics need every row's category in one seeded permutation: the
    # codes of these features travel to the client (as the labels do), which computes them as
    # Dataset does and sends each worker its rows' values.
    ts_values: dict[int, np.ndarray] = {}
    if ts:
        got_codes: dict[int, np.ndarray] = {}
        for r in _call_all(actors, "codes", ts, [categories[j] for j in ts]):
            got_codes.update(r)
        codes = np.concatenate([got_codes[pid] for pid in order if pid in got_codes])
        for t, j in enumerate(ts):
            cat_vals = categories[j]
            assert cat_vals is not None
            ts_values[j], lut = ordered_target_stats(
                np.ascontiguousarray(codes[:, t]), len(cat_vals), y, w,
                p["cat_ts_prior_weight"], p["random_state"])
            specs[j]["encoding"] = "target_stats"
            specs[j]["target_stats"] = [float(v) for v in lut]
        del codes, got_codes

    p["monotone_constraints"] = resolve_monotone(p, features, list(is_cat))
    p["interaction_constraints"] = resolve_interactions(p, features)
    # -- bin edges on the rows single-machine training samples
    idx = np.asarray(_core.sample_row_indices(n, p["bin_sample_rows"], p["random_state"]))
    owner = {pid: ai for ai, d in enumerate(desc) for pid in d["parts"]}
    bounds = np.asarray([starts[i] for i in order] + [n])

    def picks_of(rows: np.ndarray) -> list[dict[int, np.ndarray]]:
        """Global row numbers -> per actor, per partition, local row numbers."""
        picks: list[dict[int, np.ndarray]] = [{} for _ in actors]
        for pos, pid in enumerate(order):
            lo, hi = np.searchsorted(rows, [bounds[pos], bounds[pos + 1]])
            if hi > lo:
                picks[owner[pid]][pid] = rows[lo:hi] - bounds[pos]
        return picks

    def sampled(method: str, rows: np.ndarray) -> list[np.ndarray]:
        got: dict[int, np.ndarray] = {}
        picks = picks_of(rows)
        for r in _call_all_args(actors, method, [(pk,) for pk in picks]):
            got.update(r)
        return [got[pid] for pid in order if pid in got]

    _mark("categories")
    sample = np.concatenate(sampled("sample", idx))
    for j in ts:
        sample[:, j] = ts_values[j][idx]
    cols = [np.ascontiguousarray(sample[:, j]) for j in range(m)]
    edges = _core.fit_bin_edges_columns(cols, num_cats, p["max_bin"], max(int(sample.shape[0]), 1),
                                        p["random_state"], p["n_jobs"])
    edges = [np.asarray(e) for e in edges]
    del sample, cols
    _mark("bin_edges")

    # -- the reference profile's edges: fitted, as Profile.from_data fits them, on the rows
    #    its own seeded sample picks (its draw is the binning draw with another stream)
    cat_names = [f for f, c in zip(features, is_cat, strict=True) if c]
    profile_edges = None
    pidx = np.empty(0, dtype=np.int64)
    if reference_profile:
        import pandas as pd

        from ..monitoring.profile import Profile

        pidx = np.asarray(_core.sample_row_indices(n, _PROFILE_SAMPLE_ROWS,
                                                   _PROFILE_SEED ^ 0x9F0F11E5 ^ 0x5A5A))
        psample = np.concatenate(sampled("sample", pidx))
        numeric = [f for f, c in zip(features, is_cat, strict=True) if not c]
        frame = pd.DataFrame({f: psample[:, j] for j, f in enumerate(features) if not is_cat[j]})
        fitted = Profile.from_data(frame, edges_from=_EdgesOf(features, edges), columns=numeric,
                                   sample_rows=_PROFILE_SAMPLE_ROWS, seed=_PROFILE_SEED)
        profile_edges = {f: np.asarray(fitted.columns[f].edges) for f in numeric}  # type: ignore[union-attr]
        del psample, frame
        _mark("profile_edges")

    # -- starting scores: the labels' best constant, as the Trainer computes it (an initial
    #    model's own constant when continuing)
    base_trees = [dict(t) for t in base.trees()] if base is not None else []
    first_round = base.num_rounds if base is not None else 0
    if base is not None:
        const = np.asarray(base.init_score, dtype=np.float64)
        if base_trees and not (
                base.schema == specs and "source" not in base.params
                and len(base.bin_edges) == len(edges)
                and all(np.array_equal(np.asarray(a), np.asarray(b))
                        for a, b in zip(base.bin_edges, edges, strict=True))):
            raise ParameterError(
                "init_model: sapwood.dask.train continues only a model grown on the same bins "
                "(the same rows, max_bin, bin_sample_rows and random_state, so that its trees "
                "are added on the workers' bin codes); this data bins differently. Continue it "
                "with sapwood.train, or train it here from the start")
    elif off is not None:
        const = np.zeros(k)
    else:
        const = np.asarray(_core.objective_init_score(core_params(p), y, weight),
                           dtype=np.float64)
    cp = core_params(p)
    # class weights: a factor per label value (the same doubles _class_weighted multiplies in)
    class_factor = None
    if p["class_weight"] is not None or p["scale_pos_weight"] != 1.0:
        factor = _class_weighted(p, y, None)
        assert factor is not None
        keys, first = np.unique(y, return_index=True)
        class_factor = (keys, factor[first])
    vinfo: list[dict[int, dict[str, Any]]] = [{} for _ in names]
    for d in desc:
        for vid, items in d["valid"].items():
            vinfo[vid].update(items)
    t_start = _PHASES.pop("t0", time.perf_counter())
    _PHASES["prepare_s"] = time.perf_counter() - t_start - _PHASES.get("place_s", 0.0)
    # query groups: global bounds, checked as Dataset checks them; a query must not cross a
    # partition boundary (its gradients need all its rows on one worker)
    local_groups: list[np.ndarray | None] = [None] * len(actors)
    if qids is not None:
        qb = bounds_from_qid(qids, n, "group")
        qset = set(qb.tolist())
        for pos, pid in enumerate(order):
            if rows[pos] and int(bounds[pos]) not in qset:
                raise DataError(
                    f"group: query {qids[int(bounds[pos])]!r} spans partitions (it continues in "
                    f"partition {pid} at row {int(bounds[pos])}); each query's rows must be in "
                    "one partition (e.g. set the index to the query id)")
        for ai in range(len(actors)):
            local, lb = 0, [np.zeros(1, dtype=np.int64)]
            for pid in sorted(desc[ai]["parts"]):
                r = int(parts[pid]["rows"])
                if not r:
                    continue
                st = starts[pid]
                inside = qb[(qb > st) & (qb <= st + r)]
                lb.append(inside - st + local)
                local += r
            local_groups[ai] = np.concatenate(lb) if local else None
    per_actor = []
    for ai in range(len(actors)):
        mine = {pid: {j: ts_values[j][starts[pid]:starts[pid] + parts[pid]["rows"]] for j in ts}
                for pid in desc[ai]["parts"]}
        per_actor.append((edges, num_cats, categories, cp, starts, const, k, specs,
                          class_factor, n, profile_edges, cat_names, mine, local_groups[ai],
                          base_trees, first_round))
    del ts_values
    _mark("prepare_rest")
    setups = _call_all_args(actors, "setup", per_actor)
    _mark("workers_setup")
    usable = sorted({f for u, _ in setups for f in u})
    blocks: list[tuple[dict[int, bytes], dict[int, list[tuple[int, bytes]]]]] = [
        ({}, {}) for _ in range(m)]
    for _, wb in setups:
        for j, (full, cut) in enumerate(wb):
            blocks[j][0].update(full)
            for b, pcs in cut.items():
                blocks[j][1].setdefault(b, []).extend(pcs)
    fingerprint = merge_fingerprint(list(features), n, blocks, y, w)

    mb = ModelBuilder(p["objective"], num_class=p["num_class"], feature_names=list(features),
                      init_score=const)
    mb.bin_edges = edges
    mb.schema = specs
    mb.params = dict(p)
    mb.provenance = provenance_with(fingerprint)
    if off is not None or (base is not None and base.trained_with_init_score):
        mb.extra["trained_with_init_score"] = True
    for bt in base_trees:
        mb.add_tree(bt)
    booster = Booster.from_builder(mb)
    valid_rows = [[(pid, int(vinfo[vid][pid]["rows"])) for pid in sorted(vinfo[vid])]
                  for vid in range(len(names))]
    evals: list[tuple[Any, ...]] = []
    for vid, name in enumerate(names):
        ids = sorted(vinfo[vid])
        vy = gather(vinfo[vid], ids, _LABEL)
        vw = gather(vinfo[vid], ids, _WEIGHT)
        if vy is None:
            raise DataError(f"valid set {name!r} has no rows")
        vq = gather(vinfo[vid], ids, _GROUP)
        if vq is None:
            if any(needs_groups(mn) for mn, _ in metrics):
                raise DataError(f"a metric is computed per query, but valid set {name!r} has "
                                "no query groups (its group column)")
            evals.append((name, vy, vw))
        else:
            evals.append((name, vy, vw,
                          np.diff(bounds_from_qid(vq, int(vy.shape[0]), "group"))))
    # The leader: the worker given the leader's share by _even_rows (`lead_worker`), else the
    # one with the fewest rows (it also adds up histograms and searches the splits); the others
    # are its peers.
    li = min(range(len(actors)), key=lambda i: (actors[i][0] != lead_worker,
                                                sum(int(parts[pid]["rows"])
                                                    for pid in desc[i]["parts"]), i))
    leader = actors[li]
    _call_all_args([leader], "lead", [([a for i, a in enumerate(actors) if i != li], leader[0],
                                       edges, num_cats, p, cp, usable, k, m, valid_rows,
                                       batch if batch is not None else _DEFAULT_BATCH,
                                       bool(_core.objective_renews_leaves(cp)), first_round,
                                       _NARROW)])
    engine = _LeadRounds(leader, valid_rows, k, int(p["n_jobs"]), first_round)
    _mark("fingerprint_lead")
    t_setup = time.perf_counter()
    _PHASES["setup_s"] = t_setup - t_start - _PHASES["place_s"] - _PHASES["prepare_s"]
    boost_rounds(booster, engine, evals, metrics, callbacks, first_round, p["n_estimators"])
    t_rounds = time.perf_counter()
    busy = _call_all(actors, "busy_seconds")
    lead = _call_all([leader], "lead_stats")[0]
    if reference_profile:
        booster.reference_profile = _reference_profile(actors, booster, pidx, sampled)
    _LAST_RUN.clear()
    _LAST_RUN.update(calls=lead["calls"], call_seconds=lead["call_seconds"],
                     workers=len(actors), client_calls=engine.calls,
                     expansions=lead["expansions"], worker_busy_s=busy,
                     leader={k: v for k, v in lead.items()
                             if k not in ("calls", "call_seconds", "expansions")},
                     splits=int(sum(int(t["feature"].size) // 2 for t in booster.trees())),
                     rounds_s=t_rounds - t_setup, profile_s=time.perf_counter() - t_rounds,
                     steps={k: round(v, 3) for k, v in _STEPS.items()}, **_PHASES)
    for cb in callbacks:
        cb.after_training(booster)
    return booster

