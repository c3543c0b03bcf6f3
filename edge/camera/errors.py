"""Errors a source reports. Their text is already free of credentials."""

from __future__ import annotations


class CameraError(Exception):
    """The camera could not be read; the source will reconnect."""


class CameraAuthError(CameraError):
    """The camera refused the credentials (HTTP/RTSP 401 or 403)."""


class CameraTimeout(CameraError):
    """No answer or no frame within the configured timeout."""
