"""The approval policy from a YAML or JSON file, keeping the last good one.

The file is read again whenever it changes. A version that does not parse, breaks a rule, or names
a group the directory does not know is refused with every problem named (rule index and name,
field), logged, and kept in ``last_error``; the last good policy stays in force.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from adapters.ports import DirectoryPort, PolicySource
from adapters.sandbox.directory import load_yaml
from domain.approvals import ApprovalPolicy, parse_policy
from domain.errors import InvalidRecord

__all__ = ["FilePolicySource", "StaticPolicySource"]

log = structlog.stdlib.get_logger("peyvand.policy")


class StaticPolicySource(PolicySource):
    """A policy held in memory (tests, benchmarks)."""

    def __init__(self, policy: ApprovalPolicy) -> None:
        self._policy = policy

    async def current(self) -> ApprovalPolicy:
        return self._policy


class FilePolicySource(PolicySource):
    """The policy in a file.

    Args:
        path: The YAML or JSON file.
        directory: When given, every level's group must be one of its groups.
    """

    def __init__(self, path: Path, directory: DirectoryPort | None = None) -> None:
        self._path = path
        self._directory = directory
        self._seen: float | None = None
        self._policy: ApprovalPolicy | None = None
        self.last_error: InvalidRecord | None = None

    async def current(self) -> ApprovalPolicy:
        try:
            mtime: float | None = self._path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime is None or mtime != self._seen:
            await self._load(mtime)
        if self._policy is None:
            assert self.last_error is not None
            raise self.last_error
        return self._policy

    async def _load(self, mtime: float | None) -> None:
        try:
            groups = await self._directory.group_names() if self._directory else None
            policy = parse_policy(load_yaml(self._path), known_groups=groups)
        except InvalidRecord as err:
            # The mtime is only remembered once a valid file or this refusal was seen, so the
            # same broken file is not parsed and logged again on every call.
            self._seen, self.last_error = mtime, err
            kept = self._policy.version if self._policy else "none"
            log.error("%s refused (%s); policy in force: %s", self._path, err.problems, kept)
            return
        if self._policy is None or policy.version != self._policy.version:
            log.info("approval policy %s loaded from %s", policy.version, self._path)
        self._seen, self._policy, self.last_error = mtime, policy, None
