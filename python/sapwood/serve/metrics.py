"""The service's Prometheus metrics, in a registry of its own (one per app, so that several
apps in one process, as in the tests, never share counters)."""

from __future__ import annotations

from typing import Any

from .._compat import require

__all__ = ["Metrics"]

# Latency buckets from 100 us (a single row on an idle server) to 10 s (a large Arrow batch).
_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144)


class Metrics:
    """Counters, histograms and gauges of one service (see :meth:`exposition`)."""

    def __init__(self) -> None:
        pc = require("prometheus_client", "sapwood serve")
        self._pc = pc
        self.registry = pc.CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = pc.Counter("sapwood_requests", "HTTP requests answered",
                                   ["endpoint", "status"], registry=r)
        self.rows = pc.Counter("sapwood_rows", "rows scored", registry=r)
        self.errors = pc.Counter("sapwood_errors", "requests refused or failed, by kind",
                                 ["kind"], registry=r)
        self.latency = pc.Histogram("sapwood_request_latency_seconds",
                                    "request latency (body read to answer)", ["endpoint"],
                                    buckets=_LATENCY_BUCKETS, registry=r)
        self.predict_latency = pc.Histogram("sapwood_predict_latency_seconds",
                                            "time in Booster.predict per batch",
                                            buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_rows = pc.Histogram("sapwood_batch_rows", "rows per predict call",
                                       buckets=_ROW_BUCKETS, registry=r)
        self.batch_requests = pc.Histogram("sapwood_batch_requests",
                                           "requests gathered into one predict call",
                                           buckets=_ROW_BUCKETS[:10], registry=r)
        self.inflight = pc.Gauge("sapwood_requests_in_flight", "predict requests in flight",
                                 registry=r)
        self.model_info = pc.Gauge("sapwood_model_info", "the model being served (value 1)",
                                   ["name", "version", "sha256"], registry=r)
        self.model_loaded = pc.Gauge("sapwood_model_loaded_timestamp_seconds",
                                     "when the model being served was loaded", registry=r)
        self.reloads = pc.Counter("sapwood_model_reloads", "model reloads, by result",
                                  ["result"], registry=r)
        self.psi = pc.Gauge("sapwood_drift_psi",
                            "PSI of the rows scored since start against the model's reference "
                            "profile, per feature", ["feature"], registry=r)
        self.drift_rows = pc.Gauge("sapwood_drift_rows", "rows profiled since start", registry=r)
        self.profiles_written = pc.Counter("sapwood_drift_profiles_written",
                                           "profile files written", registry=r)

    def set_model(self, name: str, version: str, sha256: str, loaded_at: float) -> None:
        self.model_info.clear()
        self.model_info.labels(name, version, sha256).set(1)
        self.model_loaded.set(loaded_at)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of the text exposition format."""
        pc: Any = self._pc
        return pc.generate_latest(self.registry), pc.CONTENT_TYPE_LATEST
