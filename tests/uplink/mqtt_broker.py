"""A real mosquitto for the tests and the benchmark: ephemeral port, persistence
on (so a graceful restart keeps a persistent subscriber's queue), started,
stopped, killed and restarted on demand."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
# MQTT 3.1.1 CONNECT: clean session, keep-alive 60 s, empty client id.
MQTT_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    def __init__(
        self, workdir: Path, port: int | None = None, extra_conf: str = "", max_queued: int = 0
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        # A port picked here is free only until another process binds it before mosquitto
        # does (the box is shared): the first start then picks another (see `start`).
        self._port_picked = port is None
        self._extra_conf, self._max_queued = extra_conf, max_queued
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        self._write_conf()

    def _write_conf(self) -> None:
        workdir, extra_conf, max_queued = self.workdir, self._extra_conf, self._max_queued
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "autosave_interval 0\n"
            "max_inflight_messages 0\n"
            f"max_queued_messages {max_queued}\n"
            "log_type error\nlog_type warning\n"
            f"log_dest file {self.log}\n"
            # As root, mosquitto drops to user `mosquitto`, which cannot write here.
            + ("user root\n" if os.geteuid() == 0 else "")
            + extra_conf
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start_nowait(self) -> None:
        assert not self.running
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.starts += 1

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                raise RuntimeError(f"mosquitto exited: {err}{log[-2000:]}")
            # Ready when mosquitto answers a CONNECT: a bare TCP connect could reach another
            # process that took the port, or this socket itself (TCP simultaneous open on a
            # port of the ephemeral range that nobody listens on).
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s,
            ):
                s.sendall(MQTT_CONNECT)
                if s.recv(1) == b"\x20":  # CONNACK (accepted or refused: it is mosquitto)
                    return
            time.sleep(0.02)
        raise TimeoutError("mosquitto did not start listening")

    def _start_sync(self) -> None:
        for _ in range(5):
            self.start_nowait()
            try:
                self.wait_ready()
                return
            except RuntimeError as e:
                if not (self._port_picked and self.starts == 1 and "in use" in str(e)):
                    raise
            if self.proc is not None and self.proc.stderr:
                self.proc.stderr.close()
            self.starts, self.port = 0, free_port()  # taken meanwhile: another port
            self.log.unlink(missing_ok=True)
            self._write_conf()
        raise RuntimeError("no free port for mosquitto after 5 tries")

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._start_sync)

    def stop_sync(self) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # in case a test paused it
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop_sync)

    def pause(self) -> None:
        """SIGSTOP: connections stay open (the kernel still accepts bytes), but nothing is
        answered: a peer that stops acknowledging, without closing anything."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def __del__(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
