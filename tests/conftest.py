"""Shared fixtures: fresh databases (SQLite and PostgreSQL) for every test that asks for one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

PG_HOST = os.environ.get("PEYVAND_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PEYVAND_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PEYVAND_TEST_PG_USER", "postgres")

DbFactory = Callable[[str], Awaitable[str]]


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")


@pytest.fixture
async def make_db_url(tmp_path: Path) -> AsyncIterator[DbFactory]:
    """Factory of fresh, empty databases: ``await make_db_url("sqlite" | "postgres")``.

    Each call makes a new database (a new SQLite file, or a new PostgreSQL database named
    ``peyvand_test_<random>``), dropped again when the test ends.
    """
    created: list[str] = []

    async def make(kind: str) -> str:
        name = f"peyvand_test_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / (name + '.sqlite')}"
        if kind == "postgres":
            conn = await _admin()
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            created.append(name)
            return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        raise ValueError(f"unknown database kind {kind!r}")

    yield make
    if created:
        conn = await _admin()
        try:
            for name in created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    return str(request.param)
