"""The approvals API and the status reads: API keys, roles, and the workflow's own four-eyes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from adapters.sandbox import seed
from domain.orders import OrderStatus
from infra import approvals
from infra.orders import reached, wait_for
from tests.ingress.conftest import Door, crm_order, new_id

pytestmark = pytest.mark.devserver


async def _eventually(
    probe: Callable[[], Awaitable[httpx.Response]], ok: Callable[[Any], bool]
) -> Any:
    """Visibility is eventually consistent: poll for up to 20 s."""
    body: Any = None
    for _ in range(200):
        response = await probe()
        assert response.status_code == 200, response.text
        body = response.json()
        if ok(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"never held; last: {body}")


async def _order_awaiting_approval(door: Door) -> tuple[str, str]:
    """A 10,620 EUR order (needs a sales manager), started by its webhook."""
    order_id = new_id("AP")
    order = crm_order(order_id, seed.ACCOUNT_SEPAHAN, seed.SKU_DRIVE, 40, "265.50")
    assert await door.crm.create_order(order)
    event = {"event_id": new_id("evt"), "order_id": order_id}
    assert (await door.deliver("crm", "orders", event)).status_code == 202
    await wait_for(door.client, order_id, reached(OrderStatus.AWAITING_APPROVAL))
    return order_id, approvals.chain_workflow_id(order_id)


async def test_pending_and_decide_with_keys_users_and_four_eyes(door: Door) -> None:
    order_id, chain = await _order_awaiting_approval(door)
    reza = door.key_for("reza.karimi", "approver")
    requester = door.key_for(seed.SALES_REP, "approver")  # the order's owner asked for it
    outsider = door.key_for(seed.FINANCE, "approver")  # an approver, not of this level
    viewer = door.key_for("maryam.hosseini", "viewer")
    decision = {"approve": True, "comment": "ok"}

    # Who the caller is comes from the key, never from the request.
    assert (await door.http.get("/approvals/pending")).status_code == 401
    wrong = {"X-API-Key": "pvk_" + "x" * 43}
    assert (await door.http.get("/approvals/pending", headers=wrong)).status_code == 401
    url = f"/approvals/{chain}/decision"
    assert (await door.http.post(url, json=decision, headers=wrong)).status_code == 401
    no_role = await door.http.post(url, json=decision, headers=viewer)
    assert no_role.status_code == 403 and "lacks the role 'approver'" in no_role.json()["detail"]

    mine = await _eventually(
        lambda: door.http.get("/approvals/pending", headers=reza),
        lambda rows: chain in [r["chain_id"] for r in rows],
    )
    row = next(r for r in mine if r["chain_id"] == chain)
    assert row["kind"] == "order" and row["groups"] == ["sales_manager"]
    theirs = await door.http.get("/approvals/pending", headers=outsider)
    assert chain not in [r["chain_id"] for r in theirs.json()]

    # The workflow's validator refuses the requester and a non-member; nothing is recorded.
    own = await door.http.post(url, json=decision, headers=requester)
    assert own.status_code == 403 and "four-eyes" in own.json()["detail"], own.text
    other = await door.http.post(url, json=decision, headers=outsider)
    assert other.status_code == 403 and "not an approver" in other.json()["detail"], other.text
    state = await approvals.chain_state(door.client, chain)
    assert [e.kind for e in state.events].count("decided") == 0

    done = await door.http.post(url, json=decision, headers=reza)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "APPROVED" and done.json()["approved_by"] == ["reza.karimi"]
    await wait_for(door.client, order_id, reached(OrderStatus.AWAITING_SHIPMENT))
    twice = await door.http.post(url, json=decision, headers=reza)
    assert twice.status_code == 409 and "finished" in twice.json()["detail"]

    missing = await door.http.post(
        "/approvals/approval-order-NOPE-1/decision", json=decision, headers=reza
    )
    assert missing.status_code == 404
    bad_body = await door.http.post(url, json={"approve": "maybe"}, headers=reza)
    assert bad_body.status_code == 422


async def test_status_of_orders_and_returns(door: Door) -> None:
    order_id, _ = await _order_awaiting_approval(door)
    viewer = door.key_for("maryam.hosseini", "viewer")
    approver_only = door.key_for("reza.karimi", "approver")

    response = await door.http.get(f"/orders/{order_id}", headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["order_id"] == order_id and body["status"] == OrderStatus.AWAITING_APPROVAL.value
    assert body["total"] == "10620.00"

    assert (await door.http.get(f"/orders/{order_id}")).status_code == 401
    assert (await door.http.get(f"/orders/{order_id}", headers=approver_only)).status_code == 403
    assert (await door.http.get("/orders/NOPE-404", headers=viewer)).status_code == 404
    assert (await door.http.get("/orders/bad%20id", headers=viewer)).status_code == 422
    assert (await door.http.get("/returns/NOPE-404", headers=viewer)).status_code == 404

    case_id = new_id("CASE")
    receipt = {"event_id": new_id("grn"), "case_id": case_id}
    assert (await door.deliver("erp", "goods-receipts", receipt)).status_code == 202
    found = await door.http.get(f"/returns/{case_id}", headers=viewer)
    assert found.status_code == 200 and found.json()["case_id"] == case_id


async def test_keys_are_stored_hashed(door: Door) -> None:
    key = door.key_for("reza.karimi", "approver")["X-API-Key"]
    stored = door.keys.path.read_text()
    assert key not in stored and "reza.karimi" in stored
    assert door.keys.path.stat().st_mode & 0o077 == 0
