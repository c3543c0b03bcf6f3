"""Which roles may call which route, declared where the route is added.

Every route is added through `add()` with its roles. A route someone adds straight on the
router without declaring roles needs a logged-in session of any role (closed by default);
only routes declared `PUBLIC` are open (the login page, static assets, /api/health).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

from edge.config.web import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Roles = frozenset[Role]

PUBLIC: Roles = frozenset()
EVERYONE: Roles = frozenset(Role)  # any logged-in user
STAFF: Roles = frozenset({Role.INSTALLER, Role.MAINTAINER})  # the technical views
MAINTAINERS: Roles = frozenset({Role.MAINTAINER})

POLICY = web.AppKey("route_roles", dict[AbstractRoute, Roles])


def add(app: web.Application, method: str, path: str, handler: Handler, roles: Roles) -> None:
    """Add a route with the roles that may call it (PUBLIC: no login)."""
    route = app.router.add_route(method, path, handler)
    app.setdefault(POLICY, {})[route] = roles
    if method == "GET":  # aiohttp adds HEAD beside GET
        for r in route.resource or ():
            if r.method == "HEAD":
                app[POLICY][r] = roles


def roles_for(app: web.Application, route: AbstractRoute) -> Roles:
    return app.get(POLICY, {}).get(route, EVERYONE)


def public_static(app: web.Application, prefix: str, directory: str) -> None:
    """Static assets: public (the login page needs its script and styles)."""
    resource = app.router.add_static(prefix, directory, append_version=False)
    for route in resource:
        app.setdefault(POLICY, {})[route] = PUBLIC
