"""Why a field-bus request failed, in the words a maintainer needs.

`BusTimeout` and `DeviceErrorReply` are about one device; `PortError` is about the line
itself (missing, busy, unplugged) and fails every device on it until the port reopens.
"""

from __future__ import annotations


class BusError(Exception):
    """A request did not produce a usable answer."""


class BusTimeout(BusError):
    """Nothing (or nothing addressed to us) arrived before the deadline."""


class DeviceErrorReply(BusError):
    """The device answered with an error (DL/T 645 abnormal reply, Modbus exception)."""


class GarbledReply(BusError):
    """Bytes arrived but no valid frame could be made of them (noise, collision, baud)."""


class PortError(BusError):
    """The port cannot be used: it is missing, busy, refused or broke while in use."""


class PortMissing(PortError):
    pass


class PortBusy(PortError):
    pass
