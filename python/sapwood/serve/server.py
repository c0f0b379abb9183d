"""Running the app under uvicorn: signals, the listening address, exit codes.

SIGTERM drains (stop accepting, finish the requests in flight and the queued batches, write
the last drift profile) and exits 0; SIGINT does the same and exits 130. uvicorn re-raises
the captured signal after its graceful shutdown (the process would then die of it); this
server keeps the exit code instead. SIGHUP reloads the model (see :class:`Service`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Generator
from dataclasses import asdict
from typing import Any

from .._compat import require
from .app import ServeConfig, create_app

__all__ = ["serve"]


def _server_class() -> Any:
    uvicorn = require("uvicorn", "sapwood serve")

    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        """uvicorn's server, keeping the exit code of a signalled graceful shutdown and
        saying where it listens (the real port when asked for port 0)."""

        signalled: list[int]

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            self.signalled = []
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            original = {s: signal.signal(s, self._on_signal) for s in sigs}
            try:
                yield
            finally:
                for s, h in original.items():
                    signal.signal(s, h)

        def _on_signal(self, sig: int, frame: Any) -> None:
            self.signalled.append(sig)
            self.handle_exit(sig, frame)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.should_exit:
                return
            for srv in getattr(self, "servers", []):
                for sock in srv.sockets:
                    host, port = sock.getsockname()[:2]
                    print(f"sapwood serve: listening on http://{host}:{port}",
                          file=sys.stderr, flush=True)

    return Server


def serve(config: ServeConfig) -> int:
    """Serve until SIGTERM / SIGINT; returns the exit code (0 drained on SIGTERM, 130 on
    SIGINT, 2 when the service could not start). A bad model file raises a SapwoodError."""
    uvicorn = require("uvicorn", "sapwood serve")
    if config.workers > 1:
        return _serve_workers(config, uvicorn)
    app = create_app(config)
    ucfg = uvicorn.Config(app, host=config.host, port=config.port, lifespan="on",
                          log_level=config.log_level, access_log=False,
                          timeout_graceful_shutdown=int(max(1, config.graceful_timeout_s)))
    server = _server_class()(ucfg)
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits 1 when it cannot bind or start
        return 2 if e.code else 0
    if not server.started:
        return 2
    return 130 if signal.SIGINT in server.signalled else 0


def _serve_workers(config: ServeConfig, uvicorn: Any) -> int:
    # Each worker process loads the model and keeps its own batcher, metrics and drift
    # profiles (a scrape reads the worker that answers it); uvicorn's supervisor restarts a
    # dead worker and restarts all of them on SIGHUP (a rolling reload).
    from .model import load_served_model

    load_served_model(config.model)  # refuse a bad file before starting any worker
    os.environ["SAPWOOD_SERVE_CONFIG"] = json.dumps(asdict(config))
    try:
        uvicorn.run("sapwood.serve.app:app_from_env", factory=True, host=config.host,
                    port=config.port, workers=config.workers, lifespan="on",
                    log_level=config.log_level, access_log=False,
                    timeout_graceful_shutdown=int(max(1, config.graceful_timeout_s)))
    except SystemExit as e:
        return 2 if e.code else 0
    return 0
