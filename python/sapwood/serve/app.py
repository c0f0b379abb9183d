"""The ASGI application (Starlette): endpoints, model state, reload, drift writer.

Endpoints::

    POST /predict        JSON records / columns or an Arrow IPC stream -> predictions
    GET  /healthz        the process is alive
    GET  /readyz         a model is loaded and warmed, and the service is not shutting down
    GET  /model          name, version, sha256, schema, objective, training metrics
    GET  /metrics        Prometheus text exposition
    GET  /drift          per-feature drift of the rows scored since start
    POST /admin/reload   reload the model file (only with --admin-token; bearer token)

Every request is answered: a request the model cannot score gets a 4xx JSON error
(``{"error": {"kind", "message", "column", "row"}}``), an unexpected fault a 500 with the
same shape; nothing a client sends can stop the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._compat import require
from ..errors import SapwoodError, SchemaError
from .batching import Batcher
from .drift import DriftMonitor
from .inputs import ARROW_STREAM, Block, RequestError, decode_arrow, decode_json
from .metrics import Metrics
from .model import OUTPUTS, ServedModel, load_served_model

__all__ = ["ServeConfig", "Service", "create_app"]

log = logging.getLogger("sapwood.serve")


@dataclass
class ServeConfig:
    """Settings of one service (the ``sapwood serve`` options)."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch_rows: int = 1024
    max_wait_ms: float = 2.0
    batch_slots: int = 2
    inline_rows: int = 16
    max_body_bytes: int = 64 * 1024 * 1024
    unseen_categories: str = "allow"  # or "reject"
    admin_token: str | None = None  # POST /admin/reload is off without one
    reload_on_sighup: bool = True
    profile_dir: str | None = None
    profile_store: str | None = None  # a monitoring store (sapwood.monitoring.store)
    profile_interval_s: float = 300.0
    drift_flush_rows: int = 50_000
    graceful_timeout_s: float = 30.0
    log_level: str = "info"


class Service:
    """What the endpoints share: the served model (swapped whole on reload), its drift
    monitor, the batcher and the metrics."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.model: ServedModel = load_served_model(config.model)
        self.drift = self._new_drift(self.model)
        self._announce(self.model)
        self.batcher = Batcher(max_batch_rows=config.max_batch_rows,
                               max_wait=config.max_wait_ms / 1000.0, slots=config.batch_slots,
                               inline_rows=config.inline_rows, on_batch=self._on_batch)
        # drift profiling and reloads run here, never in the predict slots
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sapwood-bg")
        self.ready = True
        self.shutting_down = False
        self.last_reload: dict[str, Any] | None = None
        self._reload_lock: asyncio.Lock | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    # ---------------------------------------------------------------- model and drift
    def _new_drift(self, model: ServedModel) -> DriftMonitor:
        return DriftMonitor(model, self.metrics, self.config.profile_dir,
                            self.config.drift_flush_rows, self.config.profile_store)

    def _announce(self, m: ServedModel) -> None:
        self.metrics.set_model(m.name, m.version, m.sha256, m.loaded_at)
        self.metrics.psi.clear()

    def _on_batch(self, model: ServedModel, block: Block, output: str, res: np.ndarray,
                  n_requests: int, secs: float) -> None:
        m = self.metrics
        m.rows.inc(block.num_rows)
        m.batch_rows.observe(block.num_rows)
        m.batch_requests.observe(n_requests)
        m.predict_latency.observe(secs)
        drift = self.drift
        if drift.model is model and drift.add(block, res if output == "value" else None):
            self.background.submit(self._flush_quietly, drift)

    @staticmethod
    def _flush_quietly(drift: DriftMonitor) -> None:
        try:
            drift.flush()
        except Exception:  # noqa: BLE001 - drift must never take the service down
            log.exception("drift profiling failed")

    async def reload(self, source: str) -> dict[str, Any]:
        """Load, check and warm the model file again, then swap; on any fault keep serving
        the current model and report the fault."""
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            loop = asyncio.get_running_loop()
            t0 = time.time()
            try:
                new = await loop.run_in_executor(self.background, load_served_model,
                                                 self.config.model)
            except (SapwoodError, OSError, MemoryError) as e:
                self.metrics.reloads.labels("error").inc()
                self.last_reload = {"ok": False, "at": t0, "source": source, "error": str(e),
                                    "serving": self.model.info["sha256"]}
                log.error("reload (%s) refused, still serving %s: %s", source,
                          self.model.version, e)
                return self.last_reload
            old_drift = self.drift
            # The swap: requests read self.model once, on entry, so the ones in flight
            # finish on the old model and every later one sees the new one.
            self.model, self.drift = new, self._new_drift(new)
            self._announce(new)
            self.metrics.reloads.labels("ok").inc()
            self.last_reload = {"ok": True, "at": t0, "source": source,
                                "serving": new.info["sha256"], "version": new.version}
            log.info("reloaded (%s): now serving %s (%s)", source, new.version, new.sha256)
            await loop.run_in_executor(self.background, self._retire_drift, old_drift)
            return self.last_reload

    def _retire_drift(self, drift: DriftMonitor) -> None:
        try:
            drift.write()
        except Exception:  # noqa: BLE001
            log.exception("writing the last drift profile of the previous model failed")

    # ---------------------------------------------------------------- lifecycle
    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._reload_lock = asyncio.Lock()
        self.batcher.start()
        if self.config.reload_on_sighup and threading.current_thread() is \
                threading.main_thread() and hasattr(signal, "SIGHUP"):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        if (self.config.profile_dir is not None or self.config.profile_store is not None) \
                and self.drift.enabled:
            self._tasks.append(loop.create_task(self._write_profiles()))

    def _on_sighup(self) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self.reload("SIGHUP")))

    async def _write_profiles(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.profile_interval_s)
            await loop.run_in_executor(self.background, self._retire_drift, self.drift)

    async def shutdown(self) -> None:
        self.shutting_down = True
        self.ready = False
        for t in self._tasks:
            t.cancel()
        await self.batcher.close(self.config.graceful_timeout_s)
        if hasattr(signal, "SIGHUP"):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        self._retire_drift(self.drift)
        self.background.shutdown(wait=True)


# JSON bodies: also under curl's default type for -d (form-urlencoded) and text/plain, so
# `curl -d '{...}'` works without a header
_JSON_TYPES = frozenset({"application/json", "text/json", "", "*/*", "text/plain",
                         "application/x-www-form-urlencoded"})


# ------------------------------------------------------------------------ responses
def _json(obj: Any, status: int = 200) -> Any:
    from starlette.responses import Response

    return Response(json.dumps(obj, allow_nan=False, default=_default), status_code=status,
                    media_type="application/json")


def _default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    return str(o)


def _error(e: RequestError) -> Any:
    return _json(e.to_dict(), e.status)


def _sapwood_error(e: SapwoodError) -> RequestError:
    kind = "schema" if isinstance(e, SchemaError) else "data"
    msg = str(e)
    column = None
    # the model's messages quote the column: "column 'x' ..."
    if "column " in msg and "'" in msg:
        i = msg.find("'", msg.find("column "))
        j = msg.find("'", i + 1)
        if 0 <= i < j:
            column = msg[i + 1:j]
    return RequestError(422, kind, msg, column=column)


def _predictions_json(res: np.ndarray, output: str, m: ServedModel) -> Any:
    body: dict[str, Any] = {"predictions": res.tolist(), "output": output,
                            "model": {"name": m.name, "version": m.version}}
    if output == "contrib":
        body["columns"] = [f.name for f in m.features] + ["bias"]
    try:
        return _json(body)
    except ValueError:  # a NaN / inf in the output: written as null
        body["predictions"] = _nulls(res.tolist())
        return _json(body)


def _nulls(v: Any) -> Any:
    if isinstance(v, list):
        return [_nulls(x) for x in v]
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _predictions_arrow(res: np.ndarray, output: str, m: ServedModel) -> Any:
    from starlette.responses import Response

    pa = require("pyarrow", "Arrow IPC responses")
    if res.ndim == 1:
        names, cols = ["prediction"], [res]
    elif output == "contrib" and res.ndim == 2:
        names = [f.name for f in m.features] + ["bias"]
        cols = [res[:, j] for j in range(res.shape[1])]
    elif res.ndim == 2:
        names = [f"prediction_{k}" for k in range(res.shape[1])]
        if output == "value" and len(m.booster.prediction_names) == res.shape[1]:
            names = list(m.booster.prediction_names)  # by class, or by quantile level
        cols = [res[:, k] for k in range(res.shape[1])]
    else:  # multiclass contrib (rows, classes, features + 1)
        feat = [f.name for f in m.features] + ["bias"]
        names = [f"{n}_{k}" for k in range(res.shape[1]) for n in feat]
        cols = [res[:, k, j] for k in range(res.shape[1]) for j in range(res.shape[2])]
    table = pa.table([pa.array(np.ascontiguousarray(c)) for c in cols], names=names)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)


async def _read_body(request: Any, limit: int) -> bytes:
    cl = request.headers.get("content-length")
    if cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise RequestError(400, "bad_request", "Content-Length is not a number") from None
        if n > limit:
            raise RequestError(413, "too_large", f"the body has {n} bytes; the limit is "
                               f"{limit} (--max-body-bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "too_large", f"the body is over the limit of {limit} "
                               "bytes (--max-body-bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------ the app
def create_app(config: ServeConfig, service: Service | None = None) -> Any:
    """The Starlette app of one service (loads and warms the model now: a bad model file
    raises a SapwoodError before anything listens)."""
    require("starlette", "sapwood serve")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    svc = service or Service(config)
    metrics = svc.metrics

    def count(endpoint: str, status: int, t0: float) -> None:
        metrics.requests.labels(endpoint, str(status)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - t0)

    async def predict(request: Request) -> Any:
        t0 = time.perf_counter()
        batcher = svc.batcher
        batcher.arriving(+1)
        arriving = True
        metrics.inflight.inc()
        status = 200
        try:
            if not svc.ready:
                raise RequestError(503, "not_ready", "the service is shutting down")
            model = svc.model  # once: a reload during this request does not change it
            body = await _read_body(request, svc.config.max_body_bytes)
            ctype = request.headers.get("content-type", "application/json").split(";")[0]
            ctype = ctype.strip().lower()
            output_q = request.query_params.get("output")
            unseen = svc.config.unseen_categories
            if ctype == ARROW_STREAM:
                block = decode_arrow(body, model.features, unseen)
                output_b = None
            elif ctype in _JSON_TYPES or ctype.endswith("+json"):
                block, output_b = decode_json(body, model.features, unseen)
            else:
                raise RequestError(415, "unsupported_media_type",
                                   f"Content-Type {ctype!r} is not accepted: send "
                                   f"application/json or {ARROW_STREAM}")
            output = output_q or output_b or "value"
            if output not in OUTPUTS:
                raise RequestError(400, "bad_request", f"output must be one of {OUTPUTS}, "
                                   f"got {output!r}")
            batcher.arriving(-1)
            arriving = False
            try:
                res = await batcher.submit(model, block, output)
            except SapwoodError as e:
                raise _sapwood_error(e) from None
            accept = request.headers.get("accept", "")
            if ARROW_STREAM in accept:
                return _predictions_arrow(res, output, model)
            return _predictions_json(res, output, model)
        except RequestError as e:
            status = e.status
            metrics.errors.labels(e.kind).inc()
            return _error(e)
        except Exception as e:  # noqa: BLE001 - the process never dies on a request
            status = 500
            metrics.errors.labels("internal").inc()
            log.exception("internal error on /predict")
            return _error(RequestError(500, "internal",
                                       f"internal error ({type(e).__name__}): {e}"))
        finally:
            if arriving:
                batcher.arriving(-1)
            metrics.inflight.dec()
            count("/predict", status, t0)

    async def healthz(request: Request) -> Any:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Any:
        if svc.ready and not svc.shutting_down:
            return _json({"ready": True, "model": svc.model.version})
        return _json({"ready": False}, 503)

    async def model_info(request: Request) -> Any:
        info = dict(svc.model.info)
        info["last_reload"] = svc.last_reload
        return _json(info)

    async def metrics_endpoint(request: Request) -> Any:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(svc.background, svc._flush_quietly, svc.drift)
        body, ctype = metrics.exposition()
        return Response(body, media_type=ctype.split(";")[0],
                        headers={"content-type": ctype})

    async def drift(request: Request) -> Any:
        loop = asyncio.get_running_loop()
        try:
            rep = await loop.run_in_executor(svc.background, svc.drift.report)
        except SapwoodError as e:
            return _json({"enabled": True, "error": str(e)}, 500)
        rep["model"] = {"name": svc.model.name, "version": svc.model.version}
        return _json(rep, 200)

    async def reload(request: Request) -> Any:
        t0 = time.perf_counter()
        token = svc.config.admin_token
        if not token:
            count("/admin/reload", 404, t0)
            return _json({"error": {"kind": "not_found", "message":
                                    "reload over HTTP is off (start with --admin-token)",
                                    "column": None, "row": None}}, 404)
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            metrics.errors.labels("unauthorized").inc()
            count("/admin/reload", 401, t0)
            return _json({"error": {"kind": "unauthorized", "message":
                                    "a valid bearer token is needed", "column": None,
                                    "row": None}}, 401)
        result = await svc.reload("POST /admin/reload")
        status = 200 if result["ok"] else 422
        count("/admin/reload", status, t0)
        return _json(result, status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await svc.startup()
        try:
            yield
        finally:
            await svc.shutdown()

    app = Starlette(routes=[
        Route("/predict", predict, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/model", model_info, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/drift", drift, methods=["GET"]),
        Route("/admin/reload", reload, methods=["POST"]),
    ], lifespan=lifespan)
    app.state.service = svc
    return app


def app_from_env() -> Any:
    """An app factory for ``--workers`` (uvicorn imports it in each worker process): the
    settings come as JSON in ``SAPWOOD_SERVE_CONFIG``."""
    cfg = json.loads(os.environ["SAPWOOD_SERVE_CONFIG"])
    return create_app(ServeConfig(**cfg))
