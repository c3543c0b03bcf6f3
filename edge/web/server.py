"""The aiohttp server as a supervised service."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

from aiohttp import web

from edge.runtime import Runtime
from edge.web import (
    api,
    api_access,
    cameras,
    config_view,
    events_stream,
    gates,
    meters,
    metrics_route,
    models_view,
    ws,
)
from edge.web.auth import routes as auth_routes
from edge.web.auth.guard import Gatekeeper
from edge.web.auth.policy import public_static
from edge.web.auth.ratelimit import LoginLimiter
from edge.web.auth.sessions import Sessions
from edge.web.auth.token import ensure_token, token_path
from edge.web.auth.users import Users
from edge.web.hosts import HostCheck

# Field-operations routes, each in its own module (added before api's /api/events/{id}).
OPS_ROUTES = (events_stream.routes, metrics_route.routes)

log = logging.getLogger(__name__)

# In-flight requests get this long to finish at stop, then their connections are closed:
# well inside systemd's TimeoutStopSec, so a stalled client cannot turn a stop into SIGKILL.
SHUTDOWN_GRACE_S = 3.0


def make_app(rt: Runtime, token: str = "") -> web.Application:
    """The app: host check, then the gatekeeper (session or local token, role, CSRF), then
    the routes, each declared with its roles. Other areas add theirs through
    `rt.services["web.routes"]` (callables taking the app; use edge.web.auth.policy.add)."""
    web_cfg = rt.config.web
    hosts = HostCheck([*web_cfg.allowed_hosts, web_cfg.host])  # the listen name is the box's
    users = Users(web_cfg, rt.store.data_dir)
    if users.error:
        log.error("console users file: %s", users.error)
    gatekeeper = Gatekeeper(
        users, Sessions(web_cfg.session_idle_s, web_cfg.session_max_s), token, web_cfg.tls
    )
    app = web.Application(
        client_max_size=1024**2, middlewares=[hosts.middleware, gatekeeper.middleware]
    )
    app.on_response_prepare.append(gatekeeper.headers)
    app[api.RT] = rt
    auth_routes.setup(
        app, gatekeeper, LoginLimiter(web_cfg.login_attempts, web_cfg.login_window_s), api.STATIC
    )
    public_static(app, "/static/", str(api.STATIC))
    for ops in OPS_ROUTES:  # first: /api/events/stream before /api/events/{event_id}
        ops(app)
    api.routes(app)
    api_access.routes(app)
    ws.routes(app)
    cameras.routes(app, rt)
    gates.routes(app)
    meters.routes(app)
    models_view.routes(app)  # the installer's views
    config_view.routes(app)
    for extend in rt.services.get("web.routes", []):
        extend(app)
    return app


def server_ssl(rt: Runtime) -> ssl.SSLContext | None:
    cfg = rt.config.web
    if cfg.tls_cert_file is None or cfg.tls_key_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cfg.tls_cert_file), str(cfg.tls_key_file))
    return ctx


class WebServer:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.runner: web.AppRunner | None = None
        self.port: int | None = None
        self.scheme = "http"
        self.token_file: Path | None = None

    async def start(self) -> None:
        cfg = self.rt.config.web
        self.token_file = token_path(cfg, self.rt.store.data_dir)
        token = await asyncio.to_thread(ensure_token, self.token_file)
        self.runner = web.AppRunner(
            make_app(self.rt, token),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await self.runner.setup()
        tls = server_ssl(self.rt)
        site = web.TCPSite(self.runner, cfg.host, cfg.port, reuse_address=True, ssl_context=tls)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else cfg.port
        self.scheme = "https" if tls else "http"
        log.info("console and local API on %s://%s:%s", self.scheme, cfg.host, self.port)

    async def serve(self) -> None:
        if self.runner is None:
            await self.start()
        await asyncio.Event().wait()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
