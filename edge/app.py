"""The daemon: explicit phases (prepare, start, run, stop), start in order, stop in reverse.

Start order: store (migrate, writer) → retention → web → devices → cameras and
vision → uplinks → READY. Producers stop before the writer, and the writer
commits whatever it was handed before it stops, so a clean stop loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from edge import health
from edge.config import EdgeConfig
from edge.cpu import CpuPool
from edge.hub import Hub
from edge.registry import registry
from edge.runtime import compose
from edge.sdnotify import Notifier, watchdog_interval_s
from edge.store import Store
from edge.store.retention import Retention
from edge.supervisor import Supervisor
from edge.web.server import WebServer

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 8.0


class Daemon:
    def __init__(self, config: EdgeConfig, config_path: Path | None = None) -> None:
        self.config = config
        self.notifier = Notifier()
        self.hub = Hub()
        uplinks = {name: cfg for name, cfg in config.uplinks.items() if cfg.enabled}
        self.store = Store(
            config.storage.data_dir,
            destinations={name: cfg.wants for name, cfg in uplinks.items()},
            synchronous=config.storage.synchronous,
            batch_max=config.storage.batch_max_events,
        )
        self.supervisor = Supervisor()
        self.rt = compose(
            config, self.store, self.hub, self.supervisor, CpuPool(config.vision.cpu_workers)
        )
        self.rt.config_path = config_path
        self.web = WebServer(self.rt)
        self._stop = asyncio.Event()
        self._stopped = False

    async def start(self) -> None:
        began = time.monotonic()
        sup, rt = self.supervisor, self.rt
        await self.store.open()
        sup.spawn("store.writer", self.store.run_writer)
        sup.spawn("flow", rt.flow.run)
        retention = Retention(self.store, self.config.storage)
        rt.add_health("storage", retention.health)
        sup.spawn("store.retention", retention.run)
        await self.web.start()
        sup.spawn("web", self.web.serve)
        plugins = registry().drivers
        for dev in self.config.devices:
            if not getattr(dev, "enabled", True):
                continue
            driver = plugins[dev.type].impl(dev, rt)
            rt.services[f"device.{dev.id}"] = driver
            sup.spawn(f"device.{dev.id}", driver.run)
        from edge.services import STARTERS

        for _name, starter in STARTERS:
            await starter(rt)
        uplinks = registry().uplinks
        for name, cfg in self.config.uplinks.items():
            if not cfg.enabled:
                continue
            uplink = uplinks[cfg.type].impl(name, cfg, rt)
            rt.services[f"uplink.{name}"] = uplink
            sup.spawn(f"uplink.{name}", uplink.run)
        sup.spawn("watchdog", self._watchdog)
        self.notifier.ready(f"ready in {time.monotonic() - began:.2f}s")
        log.info(
            "compound-edge ready in %.2fs (site %s, pid %d)",
            time.monotonic() - began,
            self.config.site.name,
            os.getpid(),
        )

    async def _watchdog(self) -> None:
        """Pet systemd only while the loop turns and the writer commits."""
        interval = watchdog_interval_s() or 5.0
        while True:
            # Pet before building the summary: a slow summary (a long outbox count on a weak
            # CPU) must not delay the pet of a healthy daemon past WatchdogSec.
            if health.writer_healthy(self.rt):
                self.notifier.watchdog()
            else:
                log.error("store writer stuck: withholding the systemd watchdog")
            doc = await health.summary(self.rt)
            self.notifier.status(health.status_line(doc))
            await asyncio.sleep(interval)

    def request_stop(self, *_: Any) -> None:
        self._stop.set()

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
            await self._stop.wait()
            log.info("stopping")
        finally:
            await self.stop()

    async def stop(self) -> None:
        if self._stopped:
            return  # a second stop (a test's teardown after a restart) has nothing to do
        self._stopped = True
        self.notifier.stopping()
        # The API is a producer too: stop taking requests first, while the writer still
        # commits what in-flight requests hand it; then the tasks, newest first.
        await self.web.stop()
        await self.supervisor.stop(timeout_s=STOP_TIMEOUT_S / 2)
        await self.store.close()
        self.rt.cpu.shutdown()
        self.notifier.close()
        log.info("stopped cleanly")
