"""``sapwood serve``: a model behind HTTP (Starlette on uvicorn, Prometheus metrics).

Owns the service: request decoding and schema checks (``inputs``), micro-batching
(``batching``), the served model and its warm-up (``model``), live drift (``drift``), metrics
(``metrics``), the app and its endpoints (``app``) and the uvicorn runner (``server``).
It reads boosters and profiles through their public API only (``sapwood.load``,
``sapwood.import_model``, ``Booster.predict``, ``sapwood.Profile``,
``sapwood.monitoring.compare``) and writes files through ``sapwood._fs``. Needs the
``serve`` extra (starlette, uvicorn, prometheus-client, pyarrow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServeConfig, Service, create_app
    from .server import serve

__all__ = ["ServeConfig", "Service", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    # starlette / uvicorn load on first use, so that `import sapwood.serve` is cheap
    if name in ("ServeConfig", "Service", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module 'sapwood.serve' has no attribute {name!r}")
