"""Encrypted history: an AES-GCM payload codec with rotating keys, and its codec server.

Every payload the SDK writes (workflow and activity inputs and results, signals, updates,
queries, memos, summaries, failures' messages) is encrypted with the *active* key before it
leaves the process. The payload names its key (metadata ``encryption-key-id``), so a key can be
rotated: add a new one, make it active, and keep the old ones as long as histories written with
them are read. Payloads that are not encrypted (histories written before the codec) decode as
they are. Search attributes are not payloads: they must never carry personal data.

Keys come from the settings, never from the repository:

- ``PEYVAND_CODEC_KEYS=k2:<base64 of 32 bytes>,k1:<…>`` and ``PEYVAND_CODEC_ACTIVE_KEY=k2``
  (default: the first one listed), or
- ``PEYVAND_CODEC_KEY_FILE``: a file with one ``keyid:base64key`` per line, the active key first.

Without either, the embedded dev server's key file ``data/codec-keys`` is used when talking to
the embedded server's address; ``worker.py --embedded`` creates it on the first run.

The codec server (``/codec/encode``, ``/codec/decode``) implements the Temporal codec server
protocol so the Web UI can show decrypted payloads; it answers only the configured UI origins.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from infra.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
EMBEDDED_KEY_FILE = "codec-keys"


class CodecError(ValueError):
    """A key or payload the codec cannot use.

    Attributes:
        key_id: The key concerned, when there is one.
        reason: What is wrong, for people.
    """

    def __init__(self, reason: str, *, key_id: str | None = None) -> None:
        super().__init__(f"{reason}" + (f" (key {key_id!r})" if key_id else ""))
        self.reason, self.key_id = reason, key_id


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """The codec's keys by id, and the one new payloads are encrypted with."""

    keys: dict[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise CodecError("the active key is not among the keys", key_id=self.active)
        for key_id, key in self.keys.items():
            if len(key) != 32:
                raise CodecError(f"a key must be 32 bytes, got {len(key)}", key_id=key_id)

    @classmethod
    def parse(cls, text: str, active: str | None = None) -> KeyRing:
        """Keys from ``id:base64key`` items separated by commas or new lines.

        Args:
            text: The items; the first one is active unless ``active`` says otherwise.
            active: The id of the key that encrypts.

        Raises:
            CodecError: An item is malformed, an id repeats, or a key is not 32 bytes.
        """
        keys: dict[str, bytes] = {}
        for raw in text.replace("\n", ",").split(","):
            item = raw.strip()
            if not item or item.startswith("#"):
                continue
            key_id, sep, encoded = item.partition(":")
            key_id = key_id.strip()
            if not sep or not key_id:
                raise CodecError("expected keyid:base64key")
            if key_id in keys:
                raise CodecError("the key id is listed twice", key_id=key_id)
            try:
                keys[key_id] = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError) as err:
                raise CodecError("the key is not valid base64", key_id=key_id) from err
        if not keys:
            raise CodecError("no key given")
        return cls(keys=keys, active=active or next(iter(keys)))

    @staticmethod
    def new_item(key_id: str) -> str:
        """A fresh random key as a ``keyid:base64key`` item."""
        return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


class AesGcmCodec(PayloadCodec):
    """Encrypts each payload whole (metadata and data) with AES-256-GCM under the active key.

    The key id is bound to the ciphertext as associated data, so a payload relabelled with
    another key id fails to decrypt instead of decrypting under the wrong key.
    """

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._ring.active
        cipher = self._ciphers[key_id]
        encoded: list[Payload] = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: key_id.encode()},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def decrypt(self, payload: Payload) -> Payload:
        """One payload in the clear; a payload that is not encrypted is returned as it is.

        Raises:
            CodecError: The payload's key is unknown here, or the payload was tampered with.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError("payload encrypted with an unknown key", key_id=key_id)
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            clear = Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))
        except (InvalidTag, DecodeError) as err:
            raise CodecError("payload does not decrypt", key_id=key_id) from err
        return clear


# --- where the keys come from -----------------------------------------------------------------


def embedded_key_file(settings: Settings) -> Path:
    """The embedded dev server's key file, beside its history in ``data_dir``."""
    return settings.data_dir / EMBEDDED_KEY_FILE


def _talks_to_embedded_server(settings: Settings) -> bool:
    host, _, port = settings.temporal_address.rpartition(":")
    return host in ("localhost", "127.0.0.1") and port == str(settings.dev_server_port)


def keyring_for(settings: Settings) -> KeyRing | None:
    """The keys these settings name; None when history is not to be encrypted.

    Raises:
        CodecError: Keys are configured but unusable, or the named key file is missing.
    """
    active = settings.codec_active_key
    if settings.codec_keys is not None:
        return KeyRing.parse(settings.codec_keys.get_secret_value(), active)
    if settings.codec_key_file is not None:
        if not settings.codec_key_file.is_file():
            raise CodecError(f"PEYVAND_CODEC_KEY_FILE {settings.codec_key_file} does not exist")
        return KeyRing.parse(settings.codec_key_file.read_text(), active)
    embedded = embedded_key_file(settings)
    if _talks_to_embedded_server(settings) and embedded.is_file():
        return KeyRing.parse(embedded.read_text(), active)
    return None


def ensure_embedded_key(settings: Settings) -> Settings:
    """Settings with a key: the configured ones, else ``data/codec-keys`` (made on first use).

    The file is created readable by its owner only. It lives in ``data/``, which is not part
    of the repository; deleting it makes the embedded history unreadable, like ``rm -rf data``.
    """
    if settings.codec_keys is not None or settings.codec_key_file is not None:
        return settings
    path = embedded_key_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(KeyRing.new_item("embedded-1") + "\n")
    return settings.model_copy(update={"codec_key_file": path})


def data_converter(ring: KeyRing | None) -> DataConverter:
    """The pydantic data converter, encrypting with ``ring`` when there is one.

    With a ring, failure messages and stack traces are moved into the encrypted part too: an
    error message may quote customer data.
    """
    if ring is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=AesGcmCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# --- the codec server -------------------------------------------------------------------------


def codec_server(codec: PayloadCodec, origins: Sequence[str]) -> FastAPI:
    """The Temporal codec server protocol: ``POST /encode`` and ``POST /decode`` of
    ``{"payloads": [...]}`` in protobuf JSON, with CORS for the Web UI's ``origins``.

    Mount it (e.g. at ``/codec``) and start the UI with ``--ui-codec-endpoint``.
    """
    app = FastAPI(title="peyvand codec server", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Content-Type", "X-Namespace", "Authorization"],
        allow_credentials=True,
    )

    async def convert(request: Request, encode: bool) -> Response:
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as err:
            raise HTTPException(400, f"not a Payloads JSON document: {err}") from err
        try:
            done = await (codec.encode if encode else codec.decode)(payloads.payloads)
        except CodecError as err:
            raise HTTPException(400, str(err)) from err
        body = json_format.MessageToJson(Payloads(payloads=done))
        return Response(body, media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await convert(request, encode=True)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await convert(request, encode=False)

    return app
