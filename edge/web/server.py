"""The aiohttp server as a supervised service."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from edge.runtime import Runtime
from edge.web import api, api_access
from edge.web.hosts import HostCheck

log = logging.getLogger(__name__)

# In-flight requests get this long to finish at stop, then their connections are closed:
# well inside systemd's TimeoutStopSec, so a stalled client cannot turn a stop into SIGKILL.
SHUTDOWN_GRACE_S = 3.0


def make_app(rt: Runtime) -> web.Application:
    web_cfg = rt.config.web
    hosts = HostCheck([*web_cfg.allowed_hosts, web_cfg.host])  # the listen name is the box's
    app = web.Application(client_max_size=1024**2, middlewares=[hosts.middleware])
    app[api.RT] = rt
    api.routes(app)
    api_access.routes(app)
    for extend in rt.services.get("web.routes", []):
        extend(app)
    return app


class WebServer:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        cfg = self.rt.config.web
        self.runner = web.AppRunner(
            make_app(self.rt),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, cfg.host, cfg.port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else cfg.port
        log.info("local API on http://%s:%s", cfg.host, self.port)

    async def serve(self) -> None:
        if self.runner is None:
            await self.start()
        await asyncio.Event().wait()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
