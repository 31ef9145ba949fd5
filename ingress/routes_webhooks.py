"""``POST /webhooks/crm/…`` and ``POST /webhooks/erp/…``: signed events that start or signal.

Each delivery is checked in this order, and stops at the first refusal, having started nothing:

1. size (413 past 256 KiB), signature and timestamp (401), and the signature not seen before
   (401, replayed);
2. the payload against its model (422, naming each field and why);
3. the event id: a delivery of an event already acted on answers 202 with ``duplicate: true``;
   one being acted on right now answers 409 (retry later);
4. the action on Temporal. Starts are idempotent on the business key (``USE_EXISTING``);
   ERP events use signal-with-start, so an event for a workflow not started yet is kept.
   When Temporal cannot be reached the answer is 503 and nothing is remembered, so the
   sender's retry acts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.orders import OrderPolicy
from domain.returns import ReceiptLine
from infra.orders import order_input, start_order
from infra.returns import return_input, start_return
from ingress.dedupe import Claim
from ingress.events import (
    Accepted,
    CrmOrderCreated,
    CrmReturnRequested,
    ErpGoodsReceipt,
    ErpPayment,
    ErpShipment,
    Event,
    Problem,
    ValidationProblem,
)
from ingress.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, Source, verify
from ingress.state import Ingress, IngressDep
from workflows.order_to_cash.models import PaymentNotice, ShipmentNotice
from workflows.order_to_cash.models import workflow_id as order_workflow_id
from workflows.return_to_restock.models import GoodsReceivedNotice
from workflows.return_to_restock.models import workflow_id as return_workflow_id

log = structlog.stdlib.get_logger("peyvand.ingress")

E = TypeVar("E", bound=Event)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SOURCE_HEADERS: dict[str, Any] = {
    "parameters": [
        {
            "name": TIMESTAMP_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Unix seconds when the request was sent; signed with the body.",
        },
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": 'sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + body)>',
        },
    ]
}

MAX_BODY = 256 * 1024

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Unsigned, forged, replayed or stale."},
    409: {
        "model": Problem,
        "description": "The workflow already finished, the event is being processed right "
        "now, or its id was used for another event.",
    },
    422: {
        "model": ValidationProblem,
        "description": "The payload is malformed; each problem names its field.",
    },
    413: {"model": Problem, "description": "The body is over 256 KiB."},
    503: {"model": Problem, "description": "Temporal is unreachable; retry later."},
}


def _doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI extras of a webhook: signed headers and the body's schema."""
    return {
        **SOURCE_HEADERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        },
    }


WEBHOOK_MODELS: tuple[type[BaseModel], ...] = (
    CrmOrderCreated,
    CrmReturnRequested,
    ErpShipment,
    ErpPayment,
    ErpGoodsReceipt,
)


async def _body(request: Request) -> bytes:
    """The body, refused (413) past ``MAX_BODY`` before more of it is read: every webhook
    event is small, and the body is read before the signature can be checked."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"the body is over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive(ix: Ingress, request: Request, source: Source, model: type[E]) -> tuple[E, str]:
    """The verified, validated event and its signature."""
    body = await _body(request)
    secret = (
        ix.settings.ingress_crm_secret if source is Source.CRM else ix.settings.ingress_erp_secret
    )
    signature = request.headers.get(SIGNATURE_HEADER)
    now = ix.clock()
    try:
        verify(
            source=source,
            secret=secret.get_secret_value().encode() if secret else None,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=signature,
            body=body,
            now=now,
            window_seconds=ix.settings.ingress_replay_window_seconds,
        )
    except SignatureError as err:
        log.warning(
            "webhook refused", method=request.method, path=request.url.path, reason=err.reason
        )
        raise HTTPException(401, f"refused: {err.reason}") from err
    assert signature is not None
    window = timedelta(seconds=2 * ix.settings.ingress_replay_window_seconds)
    forget_before = datetime.fromtimestamp(now, UTC) - window
    if not await ix.events.first_sighting(signature.strip(), forget_before=forget_before):
        raise HTTPException(401, "refused: replayed (this exact request was received before)")
    try:
        event = model.model_validate_json(body)
    except ValidationError as err:
        errors = err.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from err
    return event, signature.strip()


async def _act(
    ix: Ingress,
    source: Source,
    event: Event,
    signature: str,
    *,
    kind: str,
    workflow_id: str,
    action: str,
    run: Callable[[], Awaitable[object]],
) -> Accepted:
    """Claim the event, act once, remember it; see the module's docstring."""
    digest = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
    claim = await ix.events.claim(
        source.value, event.event_id, kind=kind, workflow_id=workflow_id, body_sha256=digest
    )
    if claim is Claim.DONE:
        ix.metrics.webhooks.labels(source.value, kind, "duplicate").inc()
        return Accepted(
            event_id=event.event_id, workflow_id=workflow_id, duplicate=True, action=action
        )
    if claim is Claim.IN_FLIGHT:
        raise HTTPException(409, f"event {event.event_id} is being processed; retry later")
    if claim is Claim.CONFLICT:
        raise HTTPException(409, f"event id {event.event_id} was used for another event")
    try:
        await run()
    except WorkflowAlreadyStartedError as err:
        await ix.events.release(source.value, event.event_id)
        raise HTTPException(
            409, f"{workflow_id} already finished and is not started again"
        ) from err
    except RPCError as err:
        await ix.events.release(source.value, event.event_id)
        await ix.events.forget_signature(signature)
        log.warning("Temporal refused", kind=kind, workflow_id=workflow_id, reason=err.message)
        raise HTTPException(503, f"Temporal is unavailable: {err.message}") from err
    except BaseException:
        await ix.events.release(source.value, event.event_id)
        await ix.events.forget_signature(signature)
        raise
    await ix.events.done(source.value, event.event_id)
    ix.metrics.webhooks.labels(source.value, kind, "acted").inc()
    log.info(
        "webhook acted",
        source=source.value,
        event_id=event.event_id,
        action=action,
        workflow_id=workflow_id,
    )
    return Accepted(
        event_id=event.event_id, workflow_id=workflow_id, duplicate=False, action=action
    )


@router.post(
    "/crm/orders",
    status_code=202,
    responses=RESPONSES,
    openapi_extra=_doc(CrmOrderCreated),
    summary="A new CRM order: start its order-to-cash",
)
async def crm_order(request: Request, ix: IngressDep) -> Accepted:
    event, signature = await _receive(ix, request, Source.CRM, CrmOrderCreated)
    policy = OrderPolicy(stock_policy=event.stock_policy)
    wf_input = order_input(
        ix.settings, event.order_id, requested_by=event.requested_by, policy=policy
    )
    return await _act(
        ix,
        Source.CRM,
        event,
        signature,
        kind="order-created",
        workflow_id=order_workflow_id(event.order_id),
        action="started",
        run=lambda: start_order(ix.client, ix.settings, wf_input),
    )


@router.post(
    "/crm/returns",
    status_code=202,
    responses=RESPONSES,
    openapi_extra=_doc(CrmReturnRequested),
    summary="A return request (CRM case): start its return-to-restock",
)
async def crm_return(request: Request, ix: IngressDep) -> Accepted:
    event, signature = await _receive(ix, request, Source.CRM, CrmReturnRequested)
    wf_input = return_input(ix.settings, event.case_id, requested_by=event.requested_by)
    return await _act(
        ix,
        Source.CRM,
        event,
        signature,
        kind="return-requested",
        workflow_id=return_workflow_id(event.case_id),
        action="started",
        run=lambda: start_return(ix.client, ix.settings, wf_input),
    )


async def _signal_order(ix: Ingress, order_id: str, signal: str, notice: BaseModel) -> None:
    await start_order(
        ix.client,
        ix.settings,
        order_input(ix.settings, order_id),
        signal=signal,
        signal_args=[notice],
    )


@router.post(
    "/erp/shipments",
    status_code=202,
    responses=RESPONSES,
    openapi_extra=_doc(ErpShipment),
    summary="The ERP shipped an order: signal shipment_notified (signal-with-start)",
)
async def erp_shipment(request: Request, ix: IngressDep) -> Accepted:
    event, signature = await _receive(ix, request, Source.ERP, ErpShipment)
    notice = ShipmentNotice(source="erp-webhook", shipment_ref=event.shipment_ref)
    return await _act(
        ix,
        Source.ERP,
        event,
        signature,
        kind="shipment",
        workflow_id=order_workflow_id(event.order_id),
        action="signalled",
        run=lambda: _signal_order(ix, event.order_id, "shipment_notified", notice),
    )


@router.post(
    "/erp/payments",
    status_code=202,
    responses=RESPONSES,
    openapi_extra=_doc(ErpPayment),
    summary="The ERP booked a payment: signal payment_notified (signal-with-start)",
)
async def erp_payment(request: Request, ix: IngressDep) -> Accepted:
    event, signature = await _receive(ix, request, Source.ERP, ErpPayment)
    notice = PaymentNotice(source="erp-webhook", reference=event.reference, amount=event.amount)
    return await _act(
        ix,
        Source.ERP,
        event,
        signature,
        kind="payment",
        workflow_id=order_workflow_id(event.order_id),
        action="signalled",
        run=lambda: _signal_order(ix, event.order_id, "payment_notified", notice),
    )


@router.post(
    "/erp/goods-receipts",
    status_code=202,
    responses=RESPONSES,
    openapi_extra=_doc(ErpGoodsReceipt),
    summary="Returned goods arrived: signal goods_received (signal-with-start)",
)
async def erp_goods_receipt(request: Request, ix: IngressDep) -> Accepted:
    event, signature = await _receive(ix, request, Source.ERP, ErpGoodsReceipt)
    lines = (
        [ReceiptLine(line_no=ln.line_no, quantity=ln.quantity) for ln in event.lines]
        if event.lines
        else None
    )
    notice = GoodsReceivedNotice(lines=lines, source="erp-webhook")
    return await _act(
        ix,
        Source.ERP,
        event,
        signature,
        kind="goods-receipt",
        workflow_id=return_workflow_id(event.case_id),
        action="signalled",
        run=lambda: start_return(
            ix.client,
            ix.settings,
            return_input(ix.settings, event.case_id),
            signal="goods_received",
            signal_args=[notice],
        ),
    )
