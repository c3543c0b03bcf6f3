"""`GET /metrics`: Prometheus text format, for a bearer token or an allowed address.

Loopback may scrape by default (`web.metrics.allow`); from elsewhere a scraper needs the
token (`web.metrics.token` / `token_file`), compared in constant time. At app start the
module adds the flow reactor and the loop-lag task that feed `edge.metrics.LiveCounters`.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from edge import metrics
from edge.health import summary
from edge.web.auth import policy

LIVE = web.AppKey("metrics.live", metrics.LiveCounters)


def allowed(request: web.Request) -> bool:
    from edge.web.api import RT

    cfg = request.app[RT].config.web.metrics
    if cfg.token is not None:
        sent = request.headers.get("Authorization", "")
        want = f"Bearer {cfg.token.get_secret_value()}"
        if hmac.compare_digest(sent.encode(), want.encode()):
            return True
    try:
        peer = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(net, strict=False) for net in cfg.allow)


async def scrape(request: web.Request) -> web.Response:
    from edge.web.api import RT

    rt = request.app[RT]
    if not rt.config.web.metrics.enabled:
        raise web.HTTPNotFound()
    if not allowed(request):
        return web.Response(
            status=401,
            text="give the bearer token (web.metrics.token) or scrape from an allowed address\n",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = metrics.render(await summary(rt), request.app[LIVE], rt.hub.stats())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _start(app: web.Application) -> None:
    from edge.web.api import RT

    rt = app[RT]
    live = app[LIVE]
    rt.flow.add_reactor("metrics.events", live.on_event, kinds=None)
    rt.supervisor.spawn("metrics.loop_lag", live.measure_loop_lag)


def routes(app: web.Application) -> None:
    app[LIVE] = metrics.LiveCounters()
    app.on_startup.append(_start)
    # Not behind a console login: a scraper has its own bearer token or an allowed address,
    # which `scrape` checks (web.metrics).
    policy.add(app, "GET", "/metrics", scrape, policy.PUBLIC)
