"""The test's stand-in for the district hub: a persistent-session subscriber that
reconnects through broker restarts and records every message it gets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiomqtt


@dataclass
class Received:
    topic: str
    body: Any
    retain: bool


@dataclass
class HubClient:
    port: int
    identifier: str = "test-hub"
    topics: str = "compound/#"
    messages: list[Received] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0
    _task: asyncio.Task[None] | None = None
    _client: aiomqtt.Client | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier=self.identifier,
                    clean_session=False,
                    keepalive=5,
                    timeout=5,
                ) as client:
                    self._client = client
                    await client.subscribe(self.topics, qos=1)
                    self.connections += 1
                    self.connected.set()
                    async for m in client.messages:
                        raw = m.payload
                        text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
                        try:
                            body: Any = json.loads(text)
                        except (ValueError, RecursionError):  # tests send hostile JSON too
                            body = text
                        self.messages.append(Received(str(m.topic), body, bool(m.retain)))
            except aiomqtt.MqttError:
                self.connected.clear()
                self._client = None
                await asyncio.sleep(0.05)

    async def publish(self, topic: str, payload: bytes | str) -> None:
        assert self._client is not None
        await self._client.publish(topic, payload, qos=1)

    def events(self) -> list[dict[str, Any]]:
        """Event messages (events/*, readings), in arrival order."""
        return [
            m.body
            for m in self.messages
            if ("/events/" in m.topic or m.topic.endswith("/readings")) and isinstance(m.body, dict)
        ]

    def on(self, suffix: str) -> list[Received]:
        return [m for m in self.messages if m.topic.endswith(suffix)]
