"""Daemons a test starts in process, stopped at teardown (the `daemons` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.app import Daemon
    from edge.config import EdgeConfig


class Daemons:
    """Starts each daemon on its config and keeps it until teardown, which stops the ones the
    test did not stop itself (`await daemons.stop(d)`), in the order they started."""

    def __init__(self) -> None:
        self.running: list[Daemon] = []

    async def start(self, config: EdgeConfig) -> Daemon:
        from edge.app import Daemon

        d = Daemon(config)
        await d.start()
        self.running.append(d)
        return d

    async def stop(self, d: Daemon) -> None:
        self.running.remove(d)
        await d.stop()

    async def stop_all(self) -> None:
        for d in list(self.running):
            await self.stop(d)
