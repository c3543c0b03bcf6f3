"""Actions: the one audited way to change the world, whoever asks.

The page, the CLI, the MQTT command handler, the GB/T 28181 agent and rules all
call these functions with an `Actor` and a reason; each writes one audit row
(actor, action, target, reason, outcome) and returns an `ActionResult` or
raises `ActionRefused` with a message the caller shows as is. Transports keep
only their envelope (signatures, schemas, de-duplication).
"""

from edge.actions.access import change_access_lists
from edge.actions.alarms import ack_alarm, close_alarm
from edge.actions.base import ACTOR_KINDS, ActionRefused, ActionResult, Actor, ActorKind
from edge.actions.diag import request_diag
from edge.actions.gatekeeping import (
    approve_pass,
    correct_parking_count,
    deny_pass,
    expire_passes,
    set_fire_mode,
)
from edge.actions.gates import hold_gate, open_gate

__all__ = [
    "ACTOR_KINDS",
    "ActionRefused",
    "ActionResult",
    "Actor",
    "ActorKind",
    "ack_alarm",
    "approve_pass",
    "change_access_lists",
    "close_alarm",
    "correct_parking_count",
    "deny_pass",
    "expire_passes",
    "hold_gate",
    "open_gate",
    "request_diag",
    "set_fire_mode",
]
