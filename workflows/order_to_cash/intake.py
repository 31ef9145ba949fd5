"""Before the sales order: the customer and the stock."""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        CrmAccount,
        CrmOrder,
        CrmOrderStatus,
        CustomerData,
        ReservationRequest,
    )
    from domain.orders import OrderStatus, ReservationView, StockPolicy
    from workflows.order_to_cash.base import OrderStopped, failure_of
    from workflows.order_to_cash.fulfilment import Fulfilment
    from workflows.order_to_cash.models import CompensationKind


class Intake(Fulfilment):
    """Customer resolution and stock reservation steps of order-to-cash."""

    async def _resolve_customer(self, order: CrmOrder, account: CrmAccount) -> str:
        s, calls = self._s, self._calls
        if account.erp_customer_id:
            s.erp_customer_id = account.erp_customer_id
            self._event("customer", f"linked ERP customer {account.erp_customer_id}")
            return account.erp_customer_id
        found = await calls.ensure_customer(
            CustomerData(
                external_ref=account.account_id,
                name=account.name,
                tax_id=account.tax_id,
                email=account.email,
                phone=account.phone,
                address=account.address,
                currency=order.currency,
            )
        )
        customer_id = found.customer.customer_id
        await calls.link_account(account.account_id, customer_id)
        s.erp_customer_id = customer_id
        how = "matched existing" if found.matched else "created"
        self._event("customer", f"{how} ERP customer {customer_id}")
        return customer_id

    async def _reserve_all(self, order: CrmOrder) -> None:
        policy = self._in.policy
        deadline = workflow.now() + policy.stock_wait
        preferred = [order.preferred_warehouse] if order.preferred_warehouse else []
        lines = sorted(order.lines, key=lambda ln: ln.line_no)
        requests = []
        for line in lines:
            ref = f"{self._key}/reserve/{line.line_no}"
            self._register(CompensationKind.RELEASE_STOCK, ref, f"release {line.sku}")
            requests.append(
                ReservationRequest(
                    reference=ref, sku=line.sku, quantity=line.quantity, warehouses=preferred
                )
            )
        self._set(OrderStatus.RESERVING, f"reserving {len(lines)} lines")
        # Lines reserve side by side; every call ends before a failure is acted on, so no
        # reservation can land after its release.
        outcomes = await asyncio.gather(
            *(self._reserve_line(r, deadline) for r in requests), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        self._s.reservations.sort(key=lambda r: r.reference)
        self._stop_if_cancelled()

    async def _reserve_line(self, request: ReservationRequest, deadline: datetime) -> None:
        policy = self._in.policy
        while True:
            seen = self._stock_nudges  # before the call, so a notice during it is not lost
            try:
                reservation = await self._calls.reserve(request)
                break
            except ActivityError as err:
                kind, message = failure_of(err)
                if kind != "InsufficientStock":
                    raise
                waiting = policy.stock_policy is StockPolicy.WAIT
                if not waiting or workflow.now() >= deadline:
                    raise OrderStopped(OrderStatus.REJECTED, message, cause="out-of-stock") from err
            await self._wait_for_stock(request.sku, deadline, seen)
        self._s.reservations.append(
            ReservationView(
                reference=request.reference,
                sku=request.sku,
                quantity=reservation.quantity,
                warehouses={rl.warehouse: rl.quantity for rl in reservation.lines},
            )
        )
        where = ", ".join(f"{rl.quantity} in {rl.warehouse}" for rl in reservation.lines)
        self._event("reserved", f"{request.sku}: {where}")

    async def _wait_for_stock(self, sku: str, deadline: datetime, seen: int) -> None:
        if self._s.status is not OrderStatus.AWAITING_STOCK:
            self._set(
                OrderStatus.AWAITING_STOCK, f"waiting for {sku} until {deadline:%Y-%m-%d %H:%M}"
            )
            self._crm_later(CrmOrderStatus.AWAITING_STOCK, "awaiting-stock")
        timeout = min(self._in.policy.stock_recheck_every, deadline - workflow.now())
        await self._wait(lambda: self._stock_nudges != seen, timeout, f"recheck stock of {sku}")
        self._stop_if_cancelled()
