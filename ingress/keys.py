"""API keys of the approvals and status API: random keys, stored only as their SHA-256.

The key file (``PEYVAND_INGRESS_API_KEYS_FILE``, default ``data/api-keys.json``) maps each
key's hash to a user and roles::

    {"keys": [{"sha256": "…", "user": "reza.karimi", "roles": ["approver"], "label": "laptop"}]}

A key is 32 random bytes, so a plain SHA-256 cannot be brute-forced and needs no slow hash. The
file is read again when it changes, so ``python -m ingress keys add`` takes effect at once.

Roles: ``approver`` lists and decides approvals (the workflow still decides who may decide what:
four-eyes, level membership); ``viewer`` reads order and return status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

ROLES = ("approver", "viewer")
PREFIX = "pvk_"


class KeyFileError(ValueError):
    """The key file cannot be used.

    Attributes:
        path: The file.
        reason: What is wrong with it.
    """

    def __init__(self, reason: str, *, path: Path) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason, self.path = reason, path


class Caller(BaseModel):
    """Who an API key belongs to."""

    user: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)
    label: str = ""


class StoredKey(Caller):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class KeyFile(BaseModel):
    keys: list[StoredKey] = Field(default_factory=list)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """The key file, read again whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Caller] = {}

    def _load(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._by_hash = None, {}
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            parsed = KeyFile.model_validate_json(self.path.read_bytes())
        except ValidationError as err:
            raise KeyFileError(f"not a key file: {err}", path=self.path) from err
        self._by_hash = {
            k.sha256: Caller(user=k.user, roles=k.roles, label=k.label) for k in parsed.keys
        }
        self._stamp = stamp

    def caller(self, key: str) -> Caller | None:
        """The caller a key belongs to; None for an unknown key."""
        self._load()
        wanted = digest(key)
        found: Caller | None = None
        # Compare against every stored hash, so the time taken says nothing about which matched.
        for stored, caller in self._by_hash.items():
            if hmac.compare_digest(stored, wanted):
                found = caller
        return found

    def add(self, user: str, roles: list[str], label: str = "") -> str:
        """Make a key for ``user`` and store its hash; returns the key, which is shown once.

        Raises:
            KeyFileError: A role is unknown or the existing file is unreadable.
        """
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise KeyFileError(f"unknown roles {unknown}; choose from {ROLES}", path=self.path)
        current = KeyFile()
        if self.path.exists():
            try:
                current = KeyFile.model_validate_json(self.path.read_bytes())
            except ValidationError as err:
                raise KeyFileError(f"not a key file: {err}", path=self.path) from err
        key = PREFIX + secrets.token_urlsafe(32)
        current.keys.append(StoredKey(sha256=digest(key), user=user, roles=roles, label=label))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(current.model_dump(), indent=2) + "\n")
        tmp.replace(self.path)
        return key
