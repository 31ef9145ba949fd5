"""The sandbox directory: users, approver groups and out-of-office delegations from a YAML file.

``StaticDirectory`` serves a ``Directory`` held in memory (tests, benchmarks); ``FileDirectory``
reads ``config/directory.yaml`` (or another file) and reads it again when it changes, so an
out-of-office entry takes effect without a restart. A file that does not parse or is inconsistent
is refused and the last good directory stays in force.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
import yaml
from pydantic import ValidationError

from adapters.ports import DirectoryPort
from domain.approval_chain import Directory, DirectoryGroup, DirectoryUser, OutOfOffice
from domain.errors import InvalidRecord, RecordNotFound

__all__ = ["FileDirectory", "StaticDirectory", "load_yaml"]

SYSTEM = "directory"
log = structlog.stdlib.get_logger("peyvand.directory")


def load_yaml(path: Path) -> Any:
    """A YAML (or JSON, which YAML reads too) document.

    Raises:
        InvalidRecord: The file cannot be read or is not YAML.
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InvalidRecord(
            f"{path} cannot be read", problems=[f"{path.name}: {err}"], system=SYSTEM
        ) from None


def parse_directory(raw: Any) -> Directory:
    """A validated directory document.

    Raises:
        InvalidRecord: One problem per wrong field, each naming the entry.
    """
    try:
        directory = Directory.model_validate(raw)
    except ValidationError as err:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(directory)'}: {e['msg']}"
            for e in err.errors()
        ]
        raise InvalidRecord("directory refused", problems=problems, system=SYSTEM) from None
    problems = directory.problems()
    if problems:
        raise InvalidRecord("directory refused", problems=problems, system=SYSTEM)
    return directory


class StaticDirectory(DirectoryPort):
    """A directory held in memory."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def _current(self) -> Directory:
        return self._directory

    async def get_group(self, name: str) -> DirectoryGroup:
        for group in (await self._current()).groups:
            if group.name == name:
                return group.model_copy(deep=True)
        raise RecordNotFound(f"group {name!r} not found", kind="group", key=name, system=SYSTEM)

    async def get_user(self, user_id: str) -> DirectoryUser:
        for user in (await self._current()).users:
            if user.user_id == user_id:
                return user.model_copy()
        raise RecordNotFound(f"user {user_id!r} not found", kind="user", key=user_id, system=SYSTEM)

    async def out_of_office(self, at: datetime) -> list[OutOfOffice]:
        return [a.model_copy() for a in (await self._current()).out_of_office if a.active_at(at)]

    async def group_names(self) -> set[str]:
        return {g.name for g in (await self._current()).groups}


class FileDirectory(StaticDirectory):
    """The directory in a YAML file, read again whenever the file changes.

    Raises (from every call): InvalidRecord when the file never held a valid directory.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(Directory())
        self._path = path
        self._seen: float | None = None
        self._loaded = False
        self.last_error: InvalidRecord | None = None

    async def _current(self) -> Directory:
        try:
            mtime = self._path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime is None or mtime != self._seen:
            self._seen = mtime
            try:
                self._directory = parse_directory(load_yaml(self._path))
                self._loaded, self.last_error = True, None
            except InvalidRecord as err:
                self.last_error = err
                log.error("%s refused, keeping the last good one: %s", self._path, err.problems)
        if not self._loaded:
            assert self.last_error is not None
            raise self.last_error
        return self._directory
