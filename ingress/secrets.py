"""Webhook secrets for the embedded run, and sending a signed webhook by hand.

A deployment sets ``PEYVAND_INGRESS_CRM_SECRET`` and ``PEYVAND_INGRESS_ERP_SECRET``. The embedded
run (``worker.py --embedded``) makes ``data/webhook-secrets`` on first use instead, readable by its
owner only, so its webhooks work out of the box and ``python -m ingress send`` can sign with them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic import SecretStr

from infra.settings import Settings
from ingress.signing import Source, signed_headers

ROUTES = {
    Source.CRM: ("orders", "returns"),
    Source.ERP: ("shipments", "payments", "goods-receipts"),
}


class SecretsError(Exception):
    """No secret is known for a source, or the secrets file is malformed."""


def secrets_file(settings: Settings) -> Path:
    """Where the embedded run keeps its webhook secrets."""
    return settings.data_dir / "webhook-secrets"


def _read(path: Path) -> dict[str, str]:
    if path.stat().st_mode & 0o077:
        raise SecretsError(f"{path} is readable by others: chmod 600 it (or make new secrets)")
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or name.strip() not in ("crm", "erp") or not value.strip():
            raise SecretsError(f"{path}:{number}: expected crm=<secret> or erp=<secret>")
        found[name.strip()] = value.strip()
    return found


def _create(path: Path) -> None:
    """Write both secrets to a private temporary file, then link it into place: a process
    starting at the same moment finds either no file or the whole file, and one of two
    creators simply loses the race to the other's secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".webhook-secrets-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(
                "# HMAC secrets of the embedded ingress's webhooks (python -m ingress send)\n"
            )
            out.write(f"crm={secrets.token_urlsafe(32)}\nerp={secrets.token_urlsafe(32)}\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def ensure_embedded_secrets(settings: Settings) -> Settings:
    """Settings with both webhook secrets: the configured ones, else ``data/webhook-secrets``.

    The file is made on first use; a secret configured in the environment always wins.
    """
    if settings.ingress_crm_secret is not None and settings.ingress_erp_secret is not None:
        return settings
    path = secrets_file(settings)
    if not path.exists():
        _create(path)
    stored = _read(path)
    missing = {"crm", "erp"} - stored.keys()
    if missing:
        raise SecretsError(f"{path}: no {' or '.join(sorted(missing))} secret; delete the file")
    return settings.model_copy(
        update={
            "ingress_crm_secret": settings.ingress_crm_secret or SecretStr(stored["crm"]),
            "ingress_erp_secret": settings.ingress_erp_secret or SecretStr(stored["erp"]),
        }
    )


def secret_for(settings: Settings, source: Source) -> bytes:
    """The secret a sender signs ``source``'s webhooks with.

    Raises:
        SecretsError: Neither the setting nor the embedded run's file has it.
    """
    configured = (
        settings.ingress_crm_secret if source is Source.CRM else settings.ingress_erp_secret
    )
    if configured is not None:
        return configured.get_secret_value().encode()
    path = secrets_file(settings)
    if path.exists():
        stored = _read(path)
        if source.value in stored:
            return stored[source.value].encode()
    env = f"PEYVAND_INGRESS_{source.value.upper()}_SECRET"
    raise SecretsError(
        f"no secret for {source.value} webhooks: set {env} or run worker.py --embedded"
    )


def send(settings: Settings, url: str, source: Source, route: str, body: bytes) -> tuple[int, str]:
    """POST a signed webhook as the source system would: (HTTP status, answer body).

    Raises:
        SecretsError: The source has no secret, or the route is not one of the source's.
        OSError: The ingress cannot be reached.
    """
    if route not in ROUTES[source]:
        choices = ", ".join(ROUTES[source])
        raise SecretsError(f"{source.value} webhooks are {choices}; not {route!r}")
    headers = signed_headers(secret_for(settings, source), int(time.time()), body)
    request = urllib.request.Request(
        f"{url.rstrip('/')}/webhooks/{source.value}/{route}",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()
