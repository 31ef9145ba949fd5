"""HMAC signatures of webhook deliveries: good, forged, tampered, stale, malformed."""

from __future__ import annotations

import pytest

from ingress.signing import SignatureError, Source, sign, signed_headers, verify

SECRET = b"s3cret"
BODY = b'{"event_id":"e-1","order_id":"SO-1"}'
NOW = 1_764_460_800


def check(
    *,
    timestamp: str | None = str(NOW),
    signature: str | None = None,
    body: bytes = BODY,
    secret: bytes | None = SECRET,
    now: float = NOW,
) -> None:
    verify(
        source=Source.CRM,
        secret=secret,
        timestamp=timestamp,
        signature=sign(SECRET, NOW, BODY) if signature is None else signature,
        body=body,
        now=now,
        window_seconds=300,
    )


def test_a_good_signature_inside_the_window_passes() -> None:
    check()
    check(now=NOW + 300)
    check(now=NOW - 300)  # a sender's clock a little ahead
    headers = signed_headers(SECRET, NOW, BODY)
    check(timestamp=headers["X-Peyvand-Timestamp"], signature=headers["X-Peyvand-Signature"])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"signature": sign(b"other", NOW, BODY)}, "does not match"),
        ({"body": BODY + b" "}, "does not match"),
        ({"timestamp": str(NOW + 1)}, "does not match"),  # the time is signed too
        ({"signature": "sha256=" + "0" * 64}, "does not match"),
        ({"signature": "garbage"}, "does not match"),
        ({"now": NOW + 301}, "stale"),
        ({"now": NOW - 301}, "stale"),
        ({"timestamp": None}, "unsigned"),
        ({"signature": ""}, "unsigned"),
        ({"timestamp": "yesterday"}, "Unix seconds"),
        ({"timestamp": "-5"}, "Unix seconds"),
        ({"timestamp": "9" * 40}, "Unix seconds"),
        ({"secret": None}, "no secret"),
        ({"secret": b""}, "no secret"),
    ],
)
def test_bad_deliveries_are_refused_with_the_reason(kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason) as refused:
        check(**kwargs)  # type: ignore[arg-type]
    assert refused.value.source is Source.CRM


def test_a_forged_old_request_is_refused_as_forged_not_as_stale() -> None:
    # Age is only reported for a genuine signature: a forger learns nothing from the answer.
    with pytest.raises(SignatureError, match="does not match"):
        check(signature=sign(b"guess", NOW, BODY), now=NOW + 3600)
