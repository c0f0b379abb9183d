"""Live drift: the rows the service scores, profiled on the model's reference bins.

Scored blocks are kept (cheaply, under a lock) until ``flush_rows`` rows are pending or a
reader asks; then they are profiled in one :meth:`sapwood.Profile.from_data` call on the
reference profile's bin edges and merged (exactly: profiles are mergeable) into the profile
since start and the profile of the current window. PSI and the rest come from
:func:`sapwood.monitoring.compare`, the same function ``sapwood monitor`` runs, so the
service's numbers equal ``compare(booster, rows)`` on the same rows. Windows are written to a
folder as ``Profile.to_json`` files (atomically), which ``sapwood monitor --current`` reads.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

import numpy as np

from .. import _fs
from .inputs import Block, arrow_table, concat, predict_input
from .metrics import Metrics
from .model import ServedModel

__all__ = ["DriftMonitor"]


class DriftMonitor:
    """Profiles of what one served model scored, against its reference profile."""

    def __init__(self, model: ServedModel, metrics: Metrics | None = None,
                 profile_dir: str | None = None, flush_rows: int = 50_000,
                 profile_store: Any = None) -> None:
        from ..monitoring.profile import CategoricalColumnProfile

        self.model = model
        self.reference = model.reference_profile
        self.metrics = metrics
        self.profile_dir = profile_dir
        self.profile_store = profile_store
        self.flush_rows = int(flush_rows)
        self._lock = threading.Lock()  # guards _pending
        self._profile_lock = threading.Lock()  # one flush at a time; guards the profiles
        self._pending: list[tuple[Block, np.ndarray | None]] = []
        self._pending_rows = 0
        self.total: Any = None  # Profile since start
        self.window: Any = None  # Profile since the last write
        self.window_started = time.time()
        self._seq = 0
        ref = self.reference
        self._columns = list(ref.columns) if ref is not None else []
        self._categorical = [n for n, c in (ref.columns.items() if ref is not None else ())
                             if isinstance(c, CategoricalColumnProfile)]
        self._dtypes = {n: str(c.dtype) for n, c in (ref.columns.items() if ref is not None
                                                      else ())}
        self._with_predictions = any(n.startswith("__prediction") for n in self._columns)

    @property
    def enabled(self) -> bool:
        return self.reference is not None

    def add(self, block: Block, values: np.ndarray | None) -> bool:
        """Keep a scored block (``values``: its "value" predictions, or None to compute them
        at flush). Returns whether enough rows are pending to flush."""
        if self.reference is None or block.num_rows == 0:
            return False
        with self._lock:
            self._pending.append((block, values))
            self._pending_rows += block.num_rows
            return self._pending_rows >= self.flush_rows

    def flush(self) -> None:
        """Profile the pending rows and merge them in (call off the event loop)."""
        from .. import Profile

        with self._profile_lock:
            with self._lock:
                pending, self._pending, self._pending_rows = self._pending, [], 0
            if not pending:
                return
            groups: dict[tuple[bool, ...], list[tuple[Block, np.ndarray | None]]] = {}
            for item in pending:
                groups.setdefault(item[0].signature, []).append(item)
            feats = self.model.features
            for items in groups.values():
                block = concat([b for b, _ in items])
                preds = None
                if self._with_predictions:
                    if all(v is not None for _, v in items):
                        preds = np.concatenate([np.asarray(v) for _, v in items])
                    else:
                        preds = np.asarray(self.model.booster.predict(
                            predict_input(block, feats)))
                table = arrow_table(block, feats, self._dtypes)
                prof = Profile.from_data(table, edges_from=self.reference,
                                         categorical=self._categorical, columns=self._columns,
                                         predictions=preds)
                self.total = prof if self.total is None else self.total.merge(prof)
                self.window = prof if self.window is None else self.window.merge(prof)
            self._update_metrics()

    def report(self) -> dict[str, Any]:
        """Per-feature drift of the rows scored since start (flushes first)."""
        if self.reference is None:
            return {"enabled": False, "message": "the model carries no reference profile"}
        self.flush()
        with self._profile_lock:
            total = self.total
        if total is None:
            return {"enabled": True, "rows": 0, "status": None, "features": {}}
        rep = self._compare(total)
        feats: dict[str, Any] = {}
        for name, f in rep.features.items():
            d = {k: _num(f.get(k)) for k in ("psi", "wasserstein", "jensen_shannon",
                                             "ks_statistic", "unseen_share",
                                             "null_rate_current") if k in f}
            d["status"] = f.get("status")
            d["drifted"] = f.get("drifted")
            if "schema" in f:
                d["schema"] = f["schema"]
            feats[name] = d
        return {"enabled": True, "rows": int(total.num_rows), "status": rep.status,
                "flagged": rep.flagged(), "features": feats}

    def _compare(self, current: Any) -> Any:
        from ..monitoring import compare

        return compare(self.reference, current)

    def _update_metrics(self) -> None:
        if self.metrics is None or self.total is None:
            return
        rep = self._compare(self.total)
        self.metrics.drift_rows.set(self.total.num_rows)
        for name, f in rep.features.items():
            v = f.get("psi")
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                self.metrics.psi.labels(name).set(float(v))

    def write(self) -> str | None:
        """Write the window's profile to ``profile_dir`` (atomically) and/or append it to the
        monitoring store ``profile_store`` (with its time window and the model's SHA-256), and
        start a new window; returns the path written, or None when there is nothing to
        write."""
        if self.reference is None or (self.profile_dir is None and self.profile_store is None):
            return None
        self.flush()
        with self._profile_lock:
            window, self.window = self.window, None
            started, self.window_started = self.window_started, time.time()
            if window is None:
                return None
            self._seq += 1
            ended = time.time()
            path = None
            if self.profile_dir is not None:
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
                os.makedirs(self.profile_dir, exist_ok=True)
                path = os.path.join(self.profile_dir,
                                    f"profile-{stamp}-{os.getpid()}-{self._seq:06d}.json")
                _fs.write_text(path, window.to_json())
            if self.profile_store is not None:
                import datetime as dt

                from ..monitoring.store import ProfileStore

                st = self.profile_store if isinstance(self.profile_store, ProfileStore) \
                    else ProfileStore(self.profile_store)
                utc = dt.timezone.utc
                stored = st.append(window,
                                   window_start=dt.datetime.fromtimestamp(started, utc),
                                   window_end=dt.datetime.fromtimestamp(ended, utc),
                                   model=self.model.sha256,
                                   source=f"sapwood serve (pid {os.getpid()})")
                path = path or stored
        if self.metrics is not None:
            self.metrics.profiles_written.inc()
        return path


def _num(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v
