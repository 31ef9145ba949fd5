"""The webhooks against a real dev server and workers: signatures, validation, duplicates,
events that arrive before their workflow."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from adapters.sandbox import seed
from domain.orders import OrderStatus
from infra.orders import order_handle, reached, wait_for
from infra.returns import return_handle
from ingress.app import create_app
from ingress.dedupe import EventLog
from ingress.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from tests.ingress.conftest import CRM_SECRET, Door, crm_order, new_id
from workflows.order_to_cash.workflow import OrderToCashWorkflow
from workflows.return_to_restock.workflow import ReturnToRestockWorkflow

pytestmark = pytest.mark.devserver


async def _runs(door: Door, workflow_id: str) -> int:
    """How many runs the server has for this workflow id (0: never started)."""
    return len([wf async for wf in door.client.list_workflows(f"WorkflowId = '{workflow_id}'")])


async def _exists(door: Door, workflow_id: str) -> bool:
    try:
        await door.client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _new_order(door: Door, quantity: int = 2) -> str:
    order_id = new_id("WH")
    order = crm_order(order_id, seed.ACCOUNT_SEPAHAN, seed.SKU_PLC, quantity, "100.00")
    assert await door.crm.create_order(order)
    return order_id


async def test_a_signed_order_event_starts_the_order_once(door: Door) -> None:
    order_id = await _new_order(door)
    event = {"event_id": new_id("evt"), "order_id": order_id, "requested_by": "sara.ahmadi"}

    first = await door.deliver("crm", "orders", event)
    assert first.status_code == 202, first.text
    assert first.json() == {
        "event_id": event["event_id"],
        "workflow_id": f"order-{order_id}",
        "duplicate": False,
        "action": "started",
    }
    # The CRM retries (a new delivery, signed again a second later): nothing new starts.
    again = await door.deliver("crm", "orders", event, at=time.time() + 1)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    # Another event about the same order finds the running workflow (its id is the business key).
    other = await door.deliver("crm", "orders", {**event, "event_id": new_id("evt")})
    assert other.status_code == 202 and other.json()["duplicate"] is False

    state = await wait_for(door.client, order_id, reached(OrderStatus.AWAITING_SHIPMENT))
    assert state.status is OrderStatus.AWAITING_SHIPMENT
    assert state.requester == "sara.ahmadi"
    assert await _runs(door, f"order-{order_id}") == 1


async def test_forged_unsigned_stale_and_replayed_requests_start_nothing(door: Door) -> None:
    order_id = await _new_order(door)
    event = {"event_id": new_id("evt"), "order_id": order_id}
    body = json.dumps(event).encode()

    forged = await door.deliver("crm", "orders", event, secret="not-the-secret")
    assert forged.status_code == 401 and "does not match" in forged.json()["detail"]
    # Each source has its own secret: the CRM's does not open the ERP's door.
    shipment = {"event_id": new_id("evt"), "order_id": order_id}
    other_source = await door.deliver("erp", "shipments", shipment, secret=CRM_SECRET)
    assert other_source.status_code == 401
    unsigned = await door.http.post(
        "/webhooks/crm/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401 and "unsigned" in unsigned.json()["detail"]
    stale = await door.deliver("crm", "orders", event, at=time.time() - 3600)
    assert stale.status_code == 401 and "stale" in stale.json()["detail"]
    future = await door.deliver("crm", "orders", event, at=time.time() + 3600)
    assert future.status_code == 401 and "stale" in future.json()["detail"]
    # A signature over another body does not carry over.
    other = await door.deliver("crm", "orders", {**event, "order_id": new_id("OTHER")})
    assert other.status_code == 202
    tampered = await door.http.post(
        "/webhooks/crm/orders",
        content=body,
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: other.request.headers[TIMESTAMP_HEADER],
            SIGNATURE_HEADER: other.request.headers[SIGNATURE_HEADER],
        },
    )
    assert tampered.status_code == 401
    assert not await _exists(door, f"order-{order_id}")

    # The exact same request again, inside the window: a replay.
    another = new_id("WH")
    sent = await door.deliver("crm", "orders", {"event_id": new_id("evt"), "order_id": another})
    assert sent.status_code == 202
    replay = await door.http.post(
        "/webhooks/crm/orders", content=sent.request.content, headers=dict(sent.request.headers)
    )
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]


async def test_refused_requests_leave_no_workflow(door: Door) -> None:
    order_id = new_id("NONE")
    event = {"event_id": new_id("evt"), "order_id": order_id}
    assert (await door.deliver("crm", "orders", event, secret="forged")).status_code == 401
    assert (await door.deliver("crm", "orders", event, at=time.time() - 900)).status_code == 401
    assert not await _exists(door, f"order-{order_id}")


@pytest.mark.parametrize(
    ("path", "payload", "field", "reason"),
    [
        ("orders", {"event_id": "e-1"}, "order_id", "Field required"),
        ("orders", {"event_id": "e-1", "order_id": "a b"}, "order_id", "should match pattern"),
        (
            "orders",
            {"event_id": "e-1", "order_id": "X", "stock_policy": "hope"},
            "stock_policy",
            "",
        ),
        ("orders", {"event_id": "e-1", "order_id": "X", "colour": "red"}, "colour", "Extra"),
        ("returns", {"case_id": "C-1"}, "event_id", "Field required"),
    ],
)
async def test_malformed_payloads_get_422_naming_the_field(
    door: Door, path: str, payload: dict[str, Any], field: str, reason: str
) -> None:
    # Fresh ids: the dev server is shared by the whole session.
    if "event_id" in payload:
        payload = {**payload, "event_id": new_id("evt")}
    if payload.get("order_id") == "X":
        payload = {**payload, "order_id": new_id("BAD")}
    response = await door.deliver("crm", path, payload)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(p["loc"] == ["body", field] and reason in p["msg"] for p in problems), problems
    if "order_id" in payload and isinstance(payload["order_id"], str):
        assert not await _exists(door, f"order-{payload['order_id']}")


async def test_malformed_erp_events_get_422(door: Door) -> None:
    order_id = new_id("BAD")
    bad_amount = {"event_id": new_id("evt"), "order_id": order_id, "amount": "-5"}
    response = await door.deliver("erp", "payments", bad_amount)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "amount"]
    bad_line = {
        "event_id": new_id("evt"),
        "case_id": "C1",
        "lines": [{"line_no": 0, "quantity": 1}],
    }
    response = await door.deliver("erp", "goods-receipts", bad_line)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "lines", 0, "line_no"]
    not_json = await door.deliver("erp", "shipments", b"{not json")
    assert not_json.status_code == 422 and not_json.json()["detail"][0]["type"] == "json_invalid"
    assert not await _exists(door, f"order-{order_id}")


async def test_a_shipment_before_its_order_is_kept(door: Door) -> None:
    order_id = await _new_order(door)
    shipment = {"event_id": new_id("ship"), "order_id": order_id, "shipment_ref": "DLV-EARLY"}

    early = await door.deliver("erp", "shipments", shipment)
    assert early.status_code == 202, early.text
    assert early.json()["action"] == "signalled"
    # The order's own event comes later and joins the same workflow.
    started = await door.deliver("crm", "orders", {"event_id": new_id("evt"), "order_id": order_id})
    assert started.status_code == 202 and started.json()["workflow_id"] == f"order-{order_id}"

    state = await wait_for(door.client, order_id, reached(OrderStatus.AWAITING_SHIPMENT))
    notices = [e for e in state.events if e.kind == "shipment-notice"]
    assert [(e.detail, e.actor) for e in notices] == [("DLV-EARLY", "erp-webhook")]
    assert await _runs(door, f"order-{order_id}") == 1
    # The same shipment event again signals nothing.
    again = await door.deliver("erp", "shipments", shipment, at=time.time() + 1)
    assert again.json()["duplicate"] is True
    state = await order_handle(door.client, order_id).query(OrderToCashWorkflow.status)
    assert len([e for e in state.events if e.kind == "shipment-notice"]) == 1


async def test_a_goods_receipt_before_its_return_is_kept(door: Door) -> None:
    case_id = new_id("CASE")
    receipt = {
        "event_id": new_id("grn"),
        "case_id": case_id,
        "lines": [{"line_no": 1, "quantity": "2"}],
    }
    response = await door.deliver("erp", "goods-receipts", receipt)
    assert response.status_code == 202, response.text
    assert response.json()["workflow_id"] == f"return-{case_id}"
    handle = return_handle(door.client, case_id)
    # The case is unknown to the CRM, so the return stops; the notice reached it first.
    state = await handle.query(ReturnToRestockWorkflow.status)
    assert [(e.kind, e.actor) for e in state.events if e.kind == "goods-notice"] == [
        ("goods-notice", "erp-webhook")
    ]


async def test_an_event_for_a_finished_order_is_refused_with_409(door: Door) -> None:
    order_id = new_id("FIN")  # not in the CRM: the order is rejected at once
    started = await door.deliver("crm", "orders", {"event_id": new_id("evt"), "order_id": order_id})
    assert started.status_code == 202
    result = await order_handle(door.client, order_id).result()
    assert result.status is OrderStatus.REJECTED

    payment = {"event_id": new_id("pay"), "order_id": order_id, "amount": "10"}
    response = await door.deliver("erp", "payments", payment)
    assert response.status_code == 409, response.text
    assert "already finished" in response.json()["detail"]
    # Refused, not remembered: the same event is refused again, not called a duplicate.
    again = await door.deliver("erp", "payments", payment, at=time.time() + 1)
    assert again.status_code == 409
    assert await _runs(door, f"order-{order_id}") == 1


@pytest.mark.postgres
async def test_an_unavailable_event_database_answers_503_and_starts_nothing(door: Door) -> None:
    gone = EventLog("postgresql+asyncpg://postgres@127.0.0.1:5432/peyvand_no_such_database")
    app = create_app(door.settings, door.client, events=gone, keys=door.keys)
    transport = httpx.ASGITransport(app=app)
    order_id = new_id("DB")
    body = json.dumps({"event_id": new_id("evt"), "order_id": order_id}).encode()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as http:
            response = await http.post(
                "/webhooks/crm/orders",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    **signed_headers(CRM_SECRET.encode(), int(time.time()), body),
                },
            )
    finally:
        await gone.close()
    assert response.status_code == 503, response.text
    assert not await _exists(door, f"order-{order_id}")


async def test_an_oversized_body_is_refused_before_anything_else(door: Door) -> None:
    event = {"event_id": new_id("evt"), "order_id": new_id("BIG"), "padding": "x" * 300_000}
    response = await door.deliver("crm", "orders", event)
    assert response.status_code == 413
    assert not await _exists(door, f"order-{event['order_id']}")
