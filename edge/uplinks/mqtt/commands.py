"""Downlink commands: authenticate, validate, de-duplicate, run, audit, reply.

Two stages. `screen` runs on every message as it arrives and awaits nothing:
size bound → flat envelope (`{"body": "<text>", "signature": "<hex>"}`, parsed
by pydantic, whose parser has a depth limit) → HMAC-SHA256 over the body's
exact UTF-8 bytes (constant-time, full length). A message failing it is never
answered (a reply would land on whatever request ID the forger chose) and
nothing nested inside it is ever parsed; it is counted, logged once per
episode, and audited up to `AUDIT_PER_MIN` a minute (the rest counted), so a
flood costs the gateway an HMAC per message, not a store write and a publish.

`handle` then runs authenticated bodies one at a time, each refusal with a
reply that says what was wrong: body schema → topic name matches → site
matches → age within `max_age_s` → command allowed → operator's rate → already
handled? (then the first reply again, marked `duplicate`, nothing rerun) →
arguments → run. Every outcome is written to the audit log. A request ID is
remembered only once the command passed authentication, so a forged message
cannot burn a genuine request's ID.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from edge import actions
from edge.access import ListChange
from edge.actions import ActionRefused, Actor
from edge.runtime import Runtime
from edge.store import now_ms
from edge.timefmt import rfc3339
from edge.uplinks.mqtt.config import CommandsConfig
from edge.uplinks.mqtt.hubhealth import hub_view
from edge.uplinks.mqtt.wire import (
    ARGS,
    CMD_SCHEMA,
    REQUEST_ID,
    AllowlistArgs,
    CommandBody,
    CommandEnvelope,
    FireModeArgs,
    GateOpenArgs,
)

log = logging.getLogger(__name__)

AUDIT_PER_MIN = 10  # audit rows for unauthenticated messages; the rest are only counted
QUIET_S = 60.0  # an unauthenticated episode ends after this long without one
OPERATORS_MAX = 256  # rate buckets kept (least recently used dropped)


class Refused(Exception):
    """The command is not run; the message goes back to the hub verbatim."""


@dataclass(frozen=True)
class Reply:
    request_id: str
    body: dict[str, Any]


def sign(secret: str, body: str) -> str:
    """What the hub computes: hex HMAC-SHA256 over the body's UTF-8 bytes."""
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def _short(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(x) for x in e["loc"]) or "(body)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


class TokenBucket:
    """`rate_per_min` a minute, bursts of the same size."""

    def __init__(self, rate_per_min: float) -> None:
        self.capacity = rate_per_min
        self.per_s = rate_per_min / 60
        self.tokens = rate_per_min
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class CommandProcessor:
    def __init__(
        self,
        dest: str,
        cfg: CommandsConfig,
        rt: Runtime,
        site_id: str,
        tz: timezone,
    ) -> None:
        self.dest = dest
        self.cfg = cfg
        self.rt = rt
        self.site_id = site_id
        self.tz = tz
        self.counts = {
            "done": 0,
            "rejected": 0,
            "failed": 0,
            "duplicate": 0,
            "unauthenticated": 0,
            "busy": 0,
        }
        self._audit_budget = TokenBucket(AUDIT_PER_MIN)
        self._operators: OrderedDict[str, TokenBucket] = OrderedDict()
        self._last_forged = 0.0
        self._background: set[asyncio.Task[None]] = set()

    # --- stage 1: every message, nothing awaited ---------------------------------------

    def screen(self, topic_name: str, payload: bytes) -> str | None:
        """The body text of an authenticated message, or None (counted, maybe audited)."""
        if len(payload) > self.cfg.max_bytes:
            self._unauthenticated(topic_name, f"{len(payload)} bytes, over the limit")
            return None
        try:
            env = CommandEnvelope.model_validate_json(payload)
        except ValidationError:
            self._unauthenticated(topic_name, "bad envelope")
            return None
        if self.cfg.auth == "hmac":
            assert self.cfg.secret is not None
            if not env.signature:
                self._unauthenticated(topic_name, "missing signature")
                return None
            want = sign(self.cfg.secret.get_secret_value(), env.body)
            # compare_digest compares every character, and is False for any other length.
            if not hmac.compare_digest(want.encode(), env.signature.lower().encode()):
                self._unauthenticated(topic_name, "bad signature")
                return None
        return env.body

    def _unauthenticated(self, topic_name: str, why: str) -> None:
        self.counts["unauthenticated"] += 1
        now = time.monotonic()
        if now - self._last_forged > QUIET_S:
            log.warning(
                "hub command on cmd/%s failed authentication (%s): not answered; "
                "more are only counted (commands.unauthenticated in health)",
                topic_name[:64],
                why,
            )
        self._last_forged = now
        if self._audit_budget.take():
            detail = {"status": "unauthenticated", "error": why, "dest": self.dest}
            self._spawn(
                self.rt.store.audit(f"hub:{self.dest}", f"cmd.{topic_name[:64]}", "", detail)
            )
        return None

    def busy(self, topic_name: str, body_text: str) -> None:
        """An authenticated command found the worker's queue full: counted, not run (the
        hub sees no reply and may retry with the same request ID)."""
        self.counts["busy"] += 1
        log.warning("hub command on cmd/%s not run: the command queue is full", topic_name)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- stage 2: authenticated bodies, one at a time ------------------------------------

    async def handle(self, topic_name: str, body_text: str) -> Reply:
        request_id, by = _peek_request_id(body_text) or "unknown", None
        name: str | None = topic_name[:64]  # until the body says (and must agree)
        try:
            try:
                body = CommandBody.model_validate_json(body_text)
            except ValidationError as exc:
                raise Refused(f"bad command body: {_short(exc)}") from None
            request_id, name, by = body.request_id, body.name, body.by
            self._check(body, topic_name)
        except Refused as exc:
            reply = self._reply(request_id, name, False, "rejected", str(exc))
            await self._audit(request_id, name, by, "rejected", str(exc), {})
            self.counts["rejected"] += 1
            log.warning("hub command %s (%s) refused: %s", topic_name, request_id, exc)
            return Reply(request_id, reply)
        earlier = await self._earlier(request_id)
        if earlier is not None:
            self.counts["duplicate"] += 1
            await self._audit(request_id, name, by, "duplicate", None, {})
            return Reply(request_id, {**earlier, "duplicate": True})
        status, error, result = await self._run(body)
        reply = self._reply(request_id, name, status == "done", status, error, result)
        await self._remember(request_id, body.name, status, reply)
        await self._audit(request_id, name, by, status, error, _audit_detail(body))
        self.counts[status] += 1
        return Reply(request_id, reply)

    # --- checks -----------------------------------------------------------------

    def _check(self, body: CommandBody, topic_name: str) -> None:
        if body.name != topic_name:
            raise Refused(f"body names {body.name!r} but arrived on cmd/{topic_name}")
        if body.site != self.site_id:
            raise Refused(f"command is for site {body.site}, this is {self.site_id}")
        try:
            issued = datetime.fromisoformat(body.ts.replace("Z", "+00:00"))
        except ValueError:
            raise Refused(f"ts {body.ts!r} is not RFC 3339") from None
        if issued.tzinfo is None:
            raise Refused("ts needs a UTC offset")
        age = (datetime.now(UTC) - issued).total_seconds()
        if abs(age) > self.cfg.max_age_s:
            raise Refused(
                f"command is {age:.0f} s old (limit ±{self.cfg.max_age_s:.0f} s): not acted on"
            )
        if body.name not in self.cfg.allowed:
            raise Refused(f"command {body.name} is not allowed on this gateway")
        if not self._operator(body.by or "").take():
            raise Refused(
                f"more than {self.cfg.per_operator_per_min} commands a minute from "
                f"{body.by or 'the hub'}: not acted on"
            )
        try:
            ARGS[body.name].model_validate(body.args)
        except ValidationError as exc:
            raise Refused(f"bad args for {body.name}: {_short(exc)}") from None

    def _operator(self, by: str) -> TokenBucket:
        bucket = self._operators.pop(by, None) or TokenBucket(self.cfg.per_operator_per_min)
        self._operators[by] = bucket
        if len(self._operators) > OPERATORS_MAX:
            self._operators.popitem(last=False)
        return bucket

    # --- actions ----------------------------------------------------------------

    async def _run(self, body: CommandBody) -> tuple[str, str | None, dict[str, Any]]:
        """The envelope is done: the action itself is the same audited function the page,
        the CLI and the GB/T 28181 agent call (it writes its own audit row)."""
        actor = Actor("hub", body.by or self.dest)
        reason = f"hub command {body.request_id}"
        try:
            if body.name == "diag":
                result = await actions.request_diag(self.rt, actor=actor, reason=reason)
                return "done", None, {"health": await hub_view(self.rt, result.data["health"])}
            if body.name == "allowlist":
                a = AllowlistArgs.model_validate(body.args)
                changes = [
                    ListChange(
                        c.name,
                        c.mode,
                        [_plain(e) for e in c.entries],
                        [_plain(e) for e in c.add],
                        list(c.remove),
                    )
                    for c in a.changes
                ]
                result = await actions.change_access_lists(
                    self.rt, changes, actor=actor, reason=reason
                )
            elif body.name == "fire_mode":
                f = FireModeArgs.model_validate(body.args)
                result = await actions.set_fire_mode(self.rt, f.on, actor=actor, reason=f.reason)
            else:
                g = GateOpenArgs.model_validate(body.args)
                result = await actions.open_gate(self.rt, g.gate, actor=actor, reason=g.reason)
        except ActionRefused as exc:
            return "failed", str(exc), {}
        except Exception as exc:
            log.exception("hub command %s %s failed", body.name, body.request_id)
            return "failed", f"{type(exc).__name__}: {exc}", {}
        if not result.ok:
            return "failed", result.message, result.data
        return "done", None, result.data

    # --- bookkeeping ------------------------------------------------------------

    def _reply(
        self,
        request_id: str,
        name: str | None,
        ok: bool,
        status: str,
        error: str | None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "schema": CMD_SCHEMA,
            "request_id": request_id,
            "site": self.site_id,
            "ts": rfc3339(now_ms(), self.tz),
            "name": name,
            "ok": ok,
            "status": status,
            "error": error,
            "duplicate": False,
            "result": result or {},
        }

    async def _earlier(self, request_id: str) -> dict[str, Any] | None:
        return await self.rt.store.command_reply(self.dest, request_id)

    async def _remember(
        self, request_id: str, name: str, status: str, reply: dict[str, Any]
    ) -> None:
        await self.rt.store.remember_command(self.dest, request_id, name, status, reply)

    async def _audit(
        self,
        request_id: str,
        name: str | None,
        by: str | None,
        status: str,
        error: str | None,
        detail: dict[str, Any],
    ) -> None:
        await self.rt.store.audit(
            f"hub:{by}" if by else f"hub:{self.dest}",
            f"cmd.{name or 'unknown'}",
            request_id,
            {"status": status, "error": error, "dest": self.dest, **detail},
        )


def _plain(entry: Any) -> Any:
    """The entry as the hub sent it: keys it left out stay out, an explicit null stays (a
    visitor pass's `"entries": null` means unlimited, not the default of one)."""
    return entry.model_dump(exclude_unset=True) if isinstance(entry, BaseModel) else entry


def _peek_request_id(body_text: str) -> str | None:
    """The request ID of an authenticated body that fails validation, if it is safe as a
    topic level. pydantic's parser stops at a fixed depth (no RecursionError)."""
    try:
        rid = from_json(body_text).get("request_id")
    except (ValueError, AttributeError):
        return None
    return rid if isinstance(rid, str) and REQUEST_ID.match(rid) else None


def _audit_detail(body: CommandBody) -> dict[str, Any]:
    if body.name == "allowlist":
        changes = body.args.get("changes", [])
        return {
            "changes": [
                {
                    "list": c.get("list"),
                    "mode": c.get("mode"),
                    "entries": len(c.get("entries", [])),
                    "add": len(c.get("add", [])),
                    "remove": len(c.get("remove", [])),
                }
                for c in changes
                if isinstance(c, dict)
            ]
        }
    return {"args": body.args}
