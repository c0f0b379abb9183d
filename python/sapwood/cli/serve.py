"""``sapwood serve MODEL``: the model behind HTTP (see :mod:`sapwood.serve`)."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def _positive_int(v: str) -> int:
    import argparse

    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{v!r} must be at least 1")
    return n


def add_parser(sub: Any) -> None:
    sv = sub.add_parser(
        "serve", help="serve a model over HTTP (micro-batched, Prometheus metrics, drift)",
        description="Serve MODEL over HTTP: POST /predict (JSON records or columns, or an "
                    "Arrow IPC stream), GET /healthz, /readyz, /model, /metrics, /drift. "
                    "SIGTERM drains and exits 0; SIGHUP reloads the model file. Exit 2: the "
                    "model or the address could not be used.")
    sv.add_argument("model", help="a sapwood model file (or an XGBoost / LightGBM model)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sv.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    sv.add_argument("--workers", type=_positive_int, default=1,
                    help="server processes (each with its own batcher and metrics)")
    sv.add_argument("--max-batch-rows", type=_positive_int, default=1024,
                    help="rows gathered into one predict call at most")
    sv.add_argument("--max-wait-ms", type=float, default=2.0,
                    help="how long a request on a busy server waits for others to batch with")
    sv.add_argument("--batch-slots", type=_positive_int, default=2,
                    help="predict calls running at once (each in a thread)")
    sv.add_argument("--max-body-bytes", type=_positive_int, default=64 * 1024 * 1024,
                    help="larger request bodies get 413")
    sv.add_argument("--unseen-categories", choices=["allow", "reject"], default="allow",
                    help="allow: a category never seen in training scores as missing; "
                         "reject: such a request gets 422 naming the column and row")
    sv.add_argument("--admin-token",
                    help="enable POST /admin/reload with this bearer token (default: the "
                         "SAPWOOD_ADMIN_TOKEN variable; off when neither is set)")
    sv.add_argument("--no-sighup-reload", action="store_true",
                    help="ignore SIGHUP instead of reloading the model")
    sv.add_argument("--profile-dir",
                    help="write profiles of the scored rows here (for sapwood monitor)")
    sv.add_argument("--profile-store",
                    help="append each window's profile to this monitoring store (a folder or "
                         "fsspec URL; read by sapwood monitor history)")
    sv.add_argument("--profile-interval", type=float, default=300.0,
                    help="seconds between profile windows")
    sv.add_argument("--graceful-timeout", type=float, default=30.0,
                    help="seconds to finish requests in flight on SIGTERM")
    sv.add_argument("--log-level", default="info",
                    choices=["critical", "error", "warning", "info", "debug"])


def run(args: Any) -> int:
    from .._compat import MissingDependencyError
    from ..errors import SapwoodError

    try:
        from ..serve.app import ServeConfig
        from ..serve.server import serve

        cfg = ServeConfig(
            model=args.model, host=args.host, port=args.port, workers=args.workers,
            max_batch_rows=args.max_batch_rows, max_wait_ms=max(0.0, args.max_wait_ms),
            batch_slots=args.batch_slots, max_body_bytes=args.max_body_bytes,
            unseen_categories=args.unseen_categories,
            admin_token=args.admin_token or os.environ.get("SAPWOOD_ADMIN_TOKEN") or None,
            reload_on_sighup=not args.no_sighup_reload, profile_dir=args.profile_dir,
            profile_store=args.profile_store,
            profile_interval_s=max(0.05, args.profile_interval),
            graceful_timeout_s=args.graceful_timeout, log_level=args.log_level)
        return serve(cfg)
    except MissingDependencyError as e:
        print(f"sapwood serve: {e}", file=sys.stderr)
        return 2
    except (SapwoodError, OSError) as e:
        print(f"sapwood serve: {args.model}: {e}", file=sys.stderr)
        return 2
