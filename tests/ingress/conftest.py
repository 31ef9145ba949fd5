"""The ingress app against a real dev server, real workers (built by the composition root) on
the seeded sandbox, an encrypting client, a fresh event database and a fresh key file."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.sandbox import SandboxCRM, SandboxERP, seed, seed_demo
from domain.models import CrmOrder, CrmOrderLine
from infra.codec import KeyRing
from infra.settings import Settings
from infra.temporal import connect
from ingress.app import create_app
from ingress.dedupe import EventLog
from ingress.keys import ApiKeys
from ingress.signing import signed_headers
from tests.conftest import DbFactory
from tests.temporal_envs import dev_server
from worker import build_workers

CRM_SECRET = "crm-" + uuid.uuid4().hex
ERP_SECRET = "erp-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
async def ingress_env() -> AsyncIterator[WorkflowEnvironment]:
    """One dev server for the ingress tests (its own client speaks plain pydantic JSON)."""
    env = await dev_server()
    try:
        yield env
    finally:
        await env.shutdown()


@dataclass
class Door:
    """The app, the encrypting client behind it, and the sandbox systems behind the workers."""

    app: FastAPI
    http: httpx.AsyncClient
    client: Client
    plain: Client  # no codec: sees history as the server stores it
    settings: Settings
    ring: KeyRing
    keys: ApiKeys
    events: EventLog
    crm: SandboxCRM
    erp: SandboxERP

    async def deliver(
        self,
        source: str,
        path: str,
        payload: Any,
        *,
        at: float | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a payload signed as the source would (``secret`` forges; ``at`` back-dates)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        key = secret or (CRM_SECRET if source == "crm" else ERP_SECRET)
        signed = signed_headers(key.encode(), int(at if at is not None else time.time()), body)
        return await self.http.post(
            f"/webhooks/{source}/{path}",
            content=body,
            headers={"Content-Type": "application/json", **signed, **(headers or {})},
        )

    def key_for(self, user: str, *roles: str) -> dict[str, str]:
        return {"X-API-Key": self.keys.add(user, list(roles), label="test")}


def ingress_settings(env: WorkflowEnvironment, tmp_path: Path, ring_text: str) -> Settings:
    queue = f"ingress-{uuid.uuid4().hex[:8]}"
    return Settings(
        temporal_address=env.client.service_client.config.target_host,
        workflow_task_queue=queue,
        crm_task_queue=f"{queue}-crm",
        erp_task_queue=f"{queue}-erp",
        erp_drain_task_queues=[],  # no other test's queue
        data_dir=tmp_path,
        codec_keys=SecretStr(ring_text),
        ingress_crm_secret=SecretStr(CRM_SECRET),
        ingress_erp_secret=SecretStr(ERP_SECRET),
    )


@pytest.fixture
def with_workers() -> bool:
    """Whether the door has workers behind it (a test may override this fixture)."""
    return True


@pytest.fixture
async def door(
    ingress_env: WorkflowEnvironment, make_db_url: DbFactory, tmp_path: Path, with_workers: bool
) -> AsyncIterator[Door]:
    ring_text = KeyRing.new_item("test-1")
    settings = ingress_settings(ingress_env, tmp_path, ring_text)
    crm = SandboxCRM(await make_db_url("sqlite"))
    erp = SandboxERP(await make_db_url("sqlite"))
    await crm.create_schema()
    await erp.create_schema()
    await seed_demo(crm, erp)
    client = await connect(settings)
    assert client.data_converter.payload_codec is not None
    events = EventLog(await make_db_url("sqlite"))
    keys = ApiKeys(tmp_path / "api-keys.json")
    app = create_app(settings, client, events=events, keys=keys)
    workers = build_workers(client, settings, crm, erp) if with_workers else []
    for w in workers:
        await w.__aenter__()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingress")
    try:
        yield Door(
            app=app,
            http=http,
            client=client,
            plain=ingress_env.client,
            settings=settings,
            ring=KeyRing.parse(ring_text),
            keys=keys,
            events=events,
            crm=crm,
            erp=erp,
        )
    finally:
        await http.aclose()
        for w in reversed(workers):
            await w.__aexit__(None, None, None)
        await events.close()
        await crm.close()
        await erp.close()


def crm_order(order_id: str, account: str, sku: str, quantity: int, price: str) -> CrmOrder:
    return CrmOrder(
        order_id=order_id,
        account_id=account,
        owner=seed.SALES_REP,
        currency="EUR",
        lines=[
            CrmOrderLine(
                line_no=1,
                sku=sku,
                quantity=Decimal(quantity),
                unit_price=Decimal(price),
                currency="EUR",
            )
        ],
    )


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
