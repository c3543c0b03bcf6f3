"""The device's answers to the platform's MANSCDP queries and controls.

A Query MESSAGE is answered `200 OK` at once by the agent; the answer follows
here as new MESSAGEs carrying the query's SN: Catalog (paged), DeviceInfo,
DeviceStatus (a camera's live state), RecordInfo (empty: the gateway keeps no
recordings, so the platform stops waiting) and ConfigDownload (BasicParam).
A DeviceControl `AlarmCmd ResetAlarm` acknowledges raised alarms as an audited
action; any other control is answered Result ERROR, so the platform shows a
refusal instead of waiting.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, tzinfo

from edge import __version__
from edge.actions import ActionRefused, Actor, ack_alarm
from edge.codecs import manscdp
from edge.runtime import Runtime
from edge.uplinks.gb28181.channels import Channels
from edge.uplinks.gb28181.config import Gb28181UplinkConfig
from edge.uplinks.gb28181.registration import Registration

ANSWERED = ("Catalog", "DeviceInfo", "DeviceStatus", "RecordInfo", "ConfigDownload")


class QueryAnswers:
    def __init__(
        self,
        cfg: Gb28181UplinkConfig,
        rt: Runtime,
        tz: tzinfo,
        channels: Channels,
        registration: Registration,
    ) -> None:
        self.cfg = cfg
        self.rt = rt
        self.tz = tz
        self.channels = channels
        self.registration = registration
        self.queries: dict[str, int] = {}
        """Queries received per CmdType (`other` for those not answered), for health."""

    def count(self, doc: manscdp.Manscdp) -> None:
        kind = doc.cmd_type if doc.cmd_type in ANSWERED else "other"
        self.queries[kind] = self.queries.get(kind, 0) + 1

    async def control(self, doc: manscdp.Manscdp) -> None:
        """DeviceControl: `AlarmCmd ResetAlarm` acknowledges the target's raised alarms (an
        audited action by the platform); anything else (reboot, PTZ, recording, guard) is
        answered Result ERROR, so the platform shows a refusal instead of waiting."""
        ok = False
        if doc.text("AlarmCmd") == "ResetAlarm":
            cam = self.channels.camera(doc.device_id)
            if cam is not None or doc.device_id == self.cfg.device_id:
                ok = True
                actor = Actor("gb28181", self.cfg.server_id)
                for alarm in await self.rt.store.alarms(state="raised", limit=1000):
                    if cam is None or alarm["source"] == cam.id:
                        with contextlib.suppress(ActionRefused):
                            await ack_alarm(
                                self.rt, alarm["id"], actor=actor, note="platform ResetAlarm"
                            )
        await self.registration.message(
            manscdp.response_result("DeviceControl", doc.sn, doc.device_id, ok)
        )

    async def answer(self, doc: manscdp.Manscdp) -> None:
        message = self.registration.message
        device = self.cfg.device_id
        if doc.cmd_type == "Catalog":
            pages = manscdp.catalog_pages(device, doc.sn, self.channels.items(), self.cfg.page_size)
            for page in pages:
                await message(page)
        elif doc.cmd_type == "DeviceInfo":
            await message(
                manscdp.device_info(
                    doc.device_id,
                    doc.sn,
                    name=self.cfg.device_name,
                    manufacturer="compound-edge",
                    model="compound-edge gateway",
                    firmware=__version__,
                    channels=len(self.channels.cameras),
                )
            )
        elif doc.cmd_type == "DeviceStatus":
            cam = self.channels.camera(doc.device_id)
            online = True if cam is None else self.channels.online(cam.id)
            await message(
                manscdp.device_status(
                    doc.device_id,
                    doc.sn,
                    online=online,
                    device_time=datetime.now(self.tz).replace(tzinfo=None),
                    status_ok=online,
                )
            )
        elif doc.cmd_type == "RecordInfo":
            # No recordings on the gateway: an empty list, so the platform stops waiting.
            await message(
                manscdp.build(
                    "Response",
                    "RecordInfo",
                    doc.sn,
                    doc.device_id,
                    [
                        manscdp.Node("Name", self.cfg.device_name),
                        manscdp.Node("SumNum", 0),
                        manscdp.Node("RecordList", [], {"Num": "0"}),
                    ],
                )
            )
        elif doc.cmd_type == "ConfigDownload":
            if "BasicParam" in doc.text("ConfigType"):
                await message(
                    manscdp.config_download(
                        device,
                        doc.sn,
                        name=self.cfg.device_name,
                        expires_s=self.cfg.expires_whole_s,
                        heartbeat_s=int(self.cfg.keepalive_s),
                        heartbeat_count=self.cfg.keepalive_max_missed,
                    )
                )
            else:
                await message(manscdp.response_result("ConfigDownload", doc.sn, device, False))
