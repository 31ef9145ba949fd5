"""Webhook signatures: HMAC-SHA256 of the timestamp and the body, per source, with a window.

A sender signs every delivery (a retry is a new delivery, with a new timestamp)::

    X-Peyvand-Timestamp: 1764460800                   # Unix seconds, when it was sent
    X-Peyvand-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + body)>

The timestamp is signed with the body, so an old request cannot be refreshed with a new time.
Outside the replay window (±5 minutes by default) a request is stale; inside it, the same
signature is accepted once (``dedupe.EventLog.first_sighting`` remembers it).
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

TIMESTAMP_HEADER = "X-Peyvand-Timestamp"
SIGNATURE_HEADER = "X-Peyvand-Signature"
SCHEME = "sha256="


class Source(StrEnum):
    """Who may call a webhook; each source has its own secret."""

    CRM = "crm"
    ERP = "erp"


class SignatureError(Exception):
    """A request that must be refused with 401.

    Attributes:
        source: Whose webhook was called.
        reason: Why it was refused (missing, malformed, forged, stale, replayed, not configured).
    """

    def __init__(self, reason: str, *, source: Source) -> None:
        super().__init__(f"{source.value} webhook: {reason}")
        self.reason, self.source = reason, source


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (what a sender computes)."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SCHEME + digest


def signed_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """Both headers a sender puts on a delivery."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    *,
    source: Source,
    secret: bytes | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    window_seconds: int,
) -> None:
    """Check a delivery's signature and age.

    Raises:
        SignatureError: No secret is configured for the source, a header is missing or
            malformed, the signature does not match, or the timestamp is outside the window.
    """
    if not secret:
        raise SignatureError("no secret is configured for this source", source=source)
    if not timestamp or not signature:
        raise SignatureError(
            f"unsigned: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required", source=source
        )
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds", source=source)
    sent = int(timestamp)
    # The signature is checked before the age, so a forger learns nothing from the answer.
    expected = sign(secret, sent, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("the signature does not match", source=source)
    if abs(now - sent) > window_seconds:
        raise SignatureError(
            f"stale: sent {int(now - sent)} s from now, outside the {window_seconds} s window",
            source=source,
        )
