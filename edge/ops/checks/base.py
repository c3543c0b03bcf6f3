"""What every doctor check shares: a Finding (OK / WARN / FAIL, what was seen, the fix)
and the Context the checks read (the config, the daemon's health document, the unit file)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.config import EdgeConfig


OK, WARN, FAIL = "OK", "WARN", "FAIL"


# Installed unit first; from a checkout, the repo's (when systemctl is absent, e.g. a container).
UNIT_FILE = next(
    (
        p
        for p in (
            Path("/etc/systemd/system/edge.service"),
            Path(__file__).resolve().parents[3] / "systemd" / "edge.service",
        )
        if p.exists()
    ),
    Path("/etc/systemd/system/edge.service"),
)


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check}: {self.message}"
        return text + (f" -> {self.fix}" if self.fix and self.status != OK else "")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Context:
    """What the checks share: the config, the daemon's health document (None when down)."""

    config_path: str
    config: EdgeConfig | None = None
    health: dict[str, Any] | None = None
    api: str = ""
    service_user: str = "edge"
    unit_file: Path = UNIT_FILE
    timeout_s: float = 5.0
