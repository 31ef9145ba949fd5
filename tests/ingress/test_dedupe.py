"""The event log on SQLite and PostgreSQL: claims, duplicates, leases, replayed signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from ingress.dedupe import Claim, EventLog
from tests.conftest import DbFactory

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def log(make_db_url: DbFactory, request: pytest.FixtureRequest) -> AsyncIterator[EventLog]:
    events = EventLog(await make_db_url(request.param), lease=timedelta(seconds=1))
    try:
        yield events
    finally:
        await events.close()


async def claim(log: EventLog, event_id: str, workflow_id: str = "order-1") -> Claim:
    return await log.claim(
        "crm", event_id, kind="order-created", workflow_id=workflow_id, body_sha256="0" * 64
    )


async def test_an_event_is_acted_on_once(log: EventLog) -> None:
    assert await claim(log, "e-1") is Claim.NEW
    assert await claim(log, "e-1") is Claim.IN_FLIGHT
    await log.done("crm", "e-1")
    assert await claim(log, "e-1") is Claim.DONE
    assert await claim(log, "e-1", workflow_id="order-2") is Claim.CONFLICT
    # Ids are per source: the ERP's e-1 is another event.
    other = await log.claim("erp", "e-1", kind="shipment", workflow_id="order-1", body_sha256="")
    assert other is Claim.NEW


async def test_a_failed_action_gives_the_claim_back(log: EventLog) -> None:
    assert await claim(log, "e-2") is Claim.NEW
    await log.release("crm", "e-2")
    assert await claim(log, "e-2") is Claim.NEW
    await log.done("crm", "e-2")
    await log.release("crm", "e-2")  # a done event is never forgotten
    assert await claim(log, "e-2") is Claim.DONE


async def test_a_claim_left_by_a_crashed_process_expires(log: EventLog) -> None:
    assert await claim(log, "e-3") is Claim.NEW
    await asyncio.sleep(1.2)
    assert await claim(log, "e-3") is Claim.NEW  # taken over
    assert await claim(log, "e-3") is Claim.IN_FLIGHT  # by one retry only


async def test_concurrent_deliveries_act_once(log: EventLog) -> None:
    await log.create_schema()
    results = await asyncio.gather(*(claim(log, "e-4") for _ in range(20)))
    assert results.count(Claim.NEW) == 1


async def test_a_signature_is_accepted_once_until_forgotten(log: EventLog) -> None:
    assert await log.first_sighting("sha256=aa", forget_before=LONG_AGO)
    assert not await log.first_sighting("sha256=aa", forget_before=LONG_AGO)
    await log.forget_signature("sha256=aa")
    assert await log.first_sighting("sha256=aa", forget_before=LONG_AGO)
    # Old sightings are pruned: by then the request is stale anyway.
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert await log.first_sighting("sha256=bb", forget_before=later)
    assert await log.first_sighting("sha256=aa", forget_before=later)
