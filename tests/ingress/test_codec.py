"""The AES-GCM payload codec: round trips, key rotation, tampering, where keys come from."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import DefaultPayloadConverter

from infra.codec import (
    ENCODING,
    AesGcmCodec,
    CodecError,
    KeyRing,
    data_converter,
    embedded_key_file,
    ensure_embedded_key,
    keyring_for,
)
from infra.settings import Settings

KEY_A = "a:" + base64.b64encode(b"A" * 32).decode()
KEY_B = "b:" + base64.b64encode(b"B" * 32).decode()


def payload(value: object) -> Payload:
    return DefaultPayloadConverter().to_payloads([value])[0]


async def test_round_trip_hides_the_content_and_names_the_key() -> None:
    codec = AesGcmCodec(KeyRing.parse(KEY_A))
    clear = payload({"name": "Sepahan Steel", "email": "purchasing@sepahan-steel.example"})
    [sealed] = await codec.encode([clear])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"a"
    assert b"Sepahan" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # the metadata is sealed too
    assert await codec.decode([sealed]) == [clear]
    # A fresh nonce each time: equal inputs do not give equal ciphertexts.
    [again] = await codec.encode([clear])
    assert again.data != sealed.data


async def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = AesGcmCodec(KeyRing.parse(KEY_A))
    [written_before] = await old.encode([payload("before")])
    rotated = AesGcmCodec(KeyRing.parse(f"{KEY_B},{KEY_A}"))  # b active, a kept for reading
    [written_after] = await rotated.encode([payload("after")])
    assert written_after.metadata["encryption-key-id"] == b"b"
    assert await rotated.decode([written_before, written_after]) == [
        payload("before"),
        payload("after"),
    ]
    with pytest.raises(CodecError, match="unknown key") as refused:
        await old.decode([written_after])
    assert refused.value.key_id == "b"
    explicit = KeyRing.parse(f"{KEY_A},{KEY_B}", active="b")
    assert explicit.active == "b"


async def test_tampering_and_relabelling_are_detected() -> None:
    ring = KeyRing.parse(f"{KEY_A},{KEY_B}")
    codec = AesGcmCodec(ring)
    [sealed] = await codec.encode([payload("x")])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecError, match="does not decrypt"):
        await codec.decode([flipped])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata["encryption-key-id"] = b"b"
    with pytest.raises(CodecError, match="does not decrypt"):
        await codec.decode([relabelled])


async def test_payloads_written_before_the_codec_still_read() -> None:
    codec = AesGcmCodec(KeyRing.parse(KEY_A))
    assert await codec.decode([payload(42)]) == [payload(42)]


@pytest.mark.parametrize(
    ("text", "active", "reason"),
    [
        ("", None, "no key given"),
        ("nokey", None, "expected keyid:base64key"),
        (":abc", None, "expected keyid:base64key"),
        ("a:not base64!", None, "not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), None, "32 bytes"),
        (f"{KEY_A},{KEY_A}", None, "listed twice"),
        (KEY_A, "z", "active key is not among"),
    ],
)
def test_bad_keys_are_refused_clearly(text: str, active: str | None, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        KeyRing.parse(text, active)


def test_a_key_file_takes_comments_and_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2026-11\n{KEY_B}\n{KEY_A}\n")
    ring = keyring_for(Settings(codec_key_file=path, temporal_address="remote:7233"))
    assert ring is not None and ring.active == "b" and set(ring.keys) == {"a", "b"}
    with pytest.raises(CodecError, match="does not exist"):
        keyring_for(Settings(codec_key_file=tmp_path / "missing"))


def test_where_keys_come_from(tmp_path: Path) -> None:
    remote = Settings(temporal_address="temporal.example.com:7233", data_dir=tmp_path)
    assert keyring_for(remote) is None
    assert data_converter(None).payload_codec is None
    explicit = remote.model_copy(update={"codec_keys": SecretStr(KEY_A)})
    ring = keyring_for(explicit)
    assert ring is not None and ring.active == "a"
    assert isinstance(data_converter(ring).payload_codec, AesGcmCodec)

    # The embedded server's key: made on the first embedded run, readable by its owner only,
    # used by every process that talks to the embedded server's address, and by no other.
    embedded = Settings(temporal_address="localhost:7233", dev_server_port=7233, data_dir=tmp_path)
    assert keyring_for(embedded) is None
    with_key = ensure_embedded_key(embedded)
    path = embedded_key_file(embedded)
    assert with_key.codec_key_file == path and path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    assert ensure_embedded_key(embedded).codec_key_file == path and path.read_text() == first
    cli = keyring_for(embedded)  # e.g. starter.py in another shell
    assert cli is not None and cli.active == "embedded-1"
    assert keyring_for(embedded.model_copy(update={"temporal_address": "localhost:9999"})) is None
    # Configured keys win over the embedded file.
    assert ensure_embedded_key(explicit) is explicit
