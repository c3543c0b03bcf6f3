"""20-digit IDs the police network assigns, with the type codes GA/T 1400.1 表1 allows.

Own module so the config models use them as types (a `GbIdOf(...)` alias is a
type only when imported).
"""

from __future__ import annotations

from edge.codecs.gat1400_ids import APE_TYPES, SENDER_TYPES
from edge.config.types import GbIdOf

ApeId = GbIdOf(*sorted(int(c) for c in APE_TYPES), what="GA/T 1400 APE ID")
"""A camera's 采集设备 code: type 111-113/118/119-121/131/132/505 at digits 11-13."""

ViidSenderId = GbIdOf(*sorted(int(c) for c in SENDER_TYPES), what="GA/T 1400 device ID")
"""What a gateway registers with a 视图库 as: an APE type, or 采集系统/平台 200/209/502/504."""

CameraChannelId = GbIdOf(131, 132, what="camera channel code")
"""A camera as a GB/T 28181 channel: 网络摄像机 131 or 网络视频编码器 132 at digits 11-13."""
