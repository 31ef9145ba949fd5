"""In-memory fakes of the CRM and ERP ports, with the semantics of the real (sandbox) adapters.

``InMemoryCRM`` and ``InMemoryERP`` keep their records in plain dicts. They implement the ports
exactly as ``SandboxCRM`` / ``SandboxERP`` do (idempotent writes, the same errors, the same number
formats) and offer the same admin methods, so the shared contract suite runs against both.

Every port method also goes through fault injection, for workflow and activity tests:

* ``fail_next[name]``: a list of exceptions; a call pops the first one and raises it *before* doing
  anything (the write never happened).
* ``fail_after_commit[name]``: a count ``n``; while ``n > 0`` a call performs its write fully, then
  raises ``SystemUnavailable`` and decrements ``n`` (the write committed but the reply was lost).
* ``calls``: the name of every port method called, in order (admin methods are not logged).

Each method body runs without awaiting, so every operation is atomic with respect to other tasks.
Records are copied in and out (``model_copy(deep=True)``): callers can never mutate stored state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.ports import CRMPort, ERPPort
from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    NotShipped,
    RecordNotFound,
)
from domain.models import (
    CreditStatus,
    CrmAccount,
    CrmNote,
    CrmOrder,
    CrmOrderLine,
    CrmStatusUpdate,
    CrmTask,
    CrmUser,
    CustomerData,
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceRequest,
    InvoiceStatus,
    Reservation,
    ReservationRequest,
    ReservationStatus,
    SalesOrder,
    SalesOrderRequest,
    SalesOrderStatus,
    StockLevel,
)
from domain.money import HUNDRED, ZERO, round_money
from domain.rules import allocate, line_net, sales_order_problems
from tests.fakes_cases import InMemoryCases
from tests.fakes_returns import InMemoryReturns
from tests.fault_injection import FaultInjection, _copy, _port

__all__ = ["FaultInjection", "InMemoryCRM", "InMemoryERP"]

DEFAULT_LEAD_DAYS = 1
"""Days from order to promised delivery when a sales order draws on no reservation."""

# --- CRM -------------------------------------------------------------------------------------


class InMemoryCRM(InMemoryCases, FaultInjection, CRMPort):
    """A CRM held in memory."""

    system = "crm"

    def __init__(self) -> None:
        super().__init__()
        self._accounts: dict[str, CrmAccount] = {}
        self._users: dict[str, CrmUser] = {}
        self._orders: dict[str, CrmOrder] = {}
        self._applied_updates: set[str] = set()
        self._history: dict[str, list[CrmStatusUpdate]] = {}
        self._notes: dict[str, tuple[str, CrmNote]] = {}
        self._tasks: dict[str, tuple[str, CrmTask]] = {}
        self._task_status: dict[str, str] = {}

    # -- admin ------------------------------------------------------------------------------

    async def create_schema(self) -> None:
        """Nothing to create in memory."""

    async def close(self) -> None:
        """Nothing to close in memory."""

    async def upsert_account(self, account: CrmAccount) -> None:
        self._accounts[account.account_id] = _copy(account)

    async def upsert_user(self, user: CrmUser) -> None:
        self._users[user.user_id] = _copy(user)

    async def create_order(self, order: CrmOrder) -> bool:
        """Store a new order; False (and no change) when ``order.order_id`` already exists."""
        if order.order_id in self._orders:
            return False
        self._orders[order.order_id] = _copy(order)
        return True

    async def status_history(self, order_id: str) -> list[CrmStatusUpdate]:
        return [_copy(u) for u in self._history.get(order_id, [])]

    async def notes(self, order_id: str) -> list[CrmNote]:
        return [_copy(n) for _, n in self._notes.values() if n.order_id == order_id]

    async def tasks(self, order_id: str) -> list[CrmTask]:
        return [_copy(t) for _, t in self._tasks.values() if t.order_id == order_id]

    # -- port -------------------------------------------------------------------------------

    def _order(self, order_id: str) -> CrmOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise RecordNotFound(
                f"CRM order {order_id!r} not found", kind="order", key=order_id, system="crm"
            )
        return order

    def _account(self, account_id: str) -> CrmAccount:
        account = self._accounts.get(account_id)
        if account is None:
            raise RecordNotFound(
                f"CRM account {account_id!r} not found",
                kind="account",
                key=account_id,
                system="crm",
            )
        return account

    @_port
    async def get_order(self, order_id: str) -> CrmOrder:
        return _copy(self._order(order_id))

    @_port
    async def get_account(self, account_id: str) -> CrmAccount:
        return _copy(self._account(account_id))

    @_port
    async def link_account(self, account_id: str, erp_customer_id: str) -> None:
        self._account(account_id).erp_customer_id = erp_customer_id

    @_port
    async def list_users(self, role: str) -> list[CrmUser]:
        # By user id, each with its roles de-duplicated and sorted, as the sandbox returns them.
        return [
            user.model_copy(update={"roles": sorted(set(user.roles))}, deep=True)
            for _, user in sorted(self._users.items())
            if user.active and role in user.roles
        ]

    @_port
    async def update_order_status(self, update: CrmStatusUpdate) -> None:
        if update.key in self._applied_updates:
            return
        order = self._order(update.order_id)
        order.status = update.status
        if update.erp_order_number is not None:
            order.erp_order_number = update.erp_order_number
        if update.invoice_number is not None:
            order.invoice_number = update.invoice_number
        if update.promised_date is not None:
            order.promised_date = update.promised_date
        self._applied_updates.add(update.key)
        self._history.setdefault(update.order_id, []).append(_copy(update))

    @_port
    async def add_note(self, note: CrmNote) -> str:
        existing = self._notes.get(note.key)
        if existing is not None:
            return existing[0]
        self._order(note.order_id)
        self._case_of_order(note.case_id, note.order_id)
        note_id = f"N-{len(self._notes) + 1:06d}"
        self._notes[note.key] = (note_id, _copy(note))
        return note_id

    @_port
    async def create_task(self, task: CrmTask) -> str:
        existing = self._tasks.get(task.key)
        if existing is not None:
            return existing[0]
        self._order(task.order_id)
        self._case_of_order(task.case_id, task.order_id)
        task_id = f"T-{len(self._tasks) + 1:06d}"
        self._tasks[task.key] = (task_id, _copy(task))
        return task_id

    @_port
    async def complete_task(self, key: str, outcome: str) -> bool:
        if not outcome or outcome == "open" or len(outcome) > 32:
            raise InvalidRecord(
                f"task outcome {outcome!r} is not a closing outcome",
                problems=[f"outcome: {outcome!r} must be 1..32 characters and not 'open'"],
                system="crm",
            )
        if key not in self._tasks:
            raise RecordNotFound(f"CRM task {key!r} not found", kind="task", key=key, system="crm")
        if self._task_status.get(key, "open") != "open":
            return False
        self._task_status[key] = outcome
        return True

    async def task_statuses(self, order_id: str) -> dict[str, str]:
        """Each of the order's tasks by key: "open", or the outcome it was closed with."""
        return {
            key: self._task_status.get(key, "open")
            for key, (_, task) in self._tasks.items()
            if task.order_id == order_id
        }


# --- ERP -------------------------------------------------------------------------------------


@dataclass
class _Warehouse:
    name: str
    lead_days: int


@dataclass
class _Stock:
    on_hand: Decimal
    reserved: Decimal


@dataclass
class _SalesOrderRow:
    order: SalesOrder
    request: SalesOrderRequest
    reservation_refs: list[str]


@dataclass
class _Payment:
    invoice_number: str
    amount: Decimal


@dataclass
class _Counters:
    customer: int = 0
    sales_order: int = 0
    invoice: int = 0


class InMemoryERP(InMemoryReturns, FaultInjection, ERPPort):
    """An ERP held in memory.

    Args:
        today: The ERP's own today (default ``date.today``), used when a request carries no date.
        now: The ERP's clock for ``shipped_at`` (default the current UTC time).
    """

    system = "erp"

    def __init__(
        self,
        *,
        today: Callable[[], date] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self._today = today or date.today
        self._now = now or (lambda: datetime.now(UTC))
        self._warehouses: dict[str, _Warehouse] = {}
        self._products: dict[str, ErpProduct] = {}
        self._stock: dict[tuple[str, str], _Stock] = {}
        self._customers: dict[str, ErpCustomer] = {}
        self._opening: dict[str, Decimal] = {}
        self._reservations: dict[str, Reservation] = {}
        self._sales_orders: dict[str, _SalesOrderRow] = {}  # by reference
        self._so_by_number: dict[str, str] = {}  # number -> reference
        self._invoices: dict[str, Invoice] = {}  # by number
        self._invoice_by_ref: dict[str, str] = {}  # reference -> number
        self._payments: dict[str, _Payment] = {}  # by reference
        self._counters = _Counters()

    # -- admin ------------------------------------------------------------------------------

    async def create_schema(self) -> None:
        """Nothing to create in memory."""

    async def close(self) -> None:
        """Nothing to close in memory."""

    async def upsert_warehouse(self, code: str, name: str, lead_days: int = 1) -> None:
        """Add or change a warehouse; new warehouses come after existing ones in ERP order."""
        self._warehouses[code] = _Warehouse(name=name, lead_days=lead_days)

    async def upsert_product(self, product: ErpProduct) -> None:
        self._products[product.sku] = _copy(product)

    async def set_stock(self, sku: str, warehouse: str, on_hand: Decimal) -> None:
        """Set on-hand stock; InvalidState when it would fall below what is reserved."""
        if sku not in self._products:
            raise RecordNotFound(
                f"ERP product {sku!r} not found", kind="product", key=sku, system="erp"
            )
        if warehouse not in self._warehouses:
            raise RecordNotFound(
                f"ERP warehouse {warehouse!r} not found",
                kind="warehouse",
                key=warehouse,
                system="erp",
            )
        row = self._stock.get((sku, warehouse))
        reserved = row.reserved if row is not None else ZERO
        if on_hand < reserved:
            raise InvalidState(
                f"stock of {sku} in {warehouse} cannot go to {on_hand}: {reserved} is reserved",
                kind="stock",
                key=f"{sku}@{warehouse}",
                state=f"reserved={reserved}",
                system="erp",
            )
        if row is None:
            self._stock[(sku, warehouse)] = _Stock(on_hand=on_hand, reserved=ZERO)
        else:
            row.on_hand = on_hand

    async def upsert_customer(
        self, customer: ErpCustomer, opening_receivables: Decimal = Decimal(0)
    ) -> None:
        self._customers[customer.customer_id] = _copy(customer)
        self._opening[customer.customer_id] = opening_receivables

    async def ship(self, sales_order_number: str) -> SalesOrder:
        """Ship an open sales order, consuming its reservations; idempotent."""
        row = self._row_by_number(sales_order_number)
        status = row.order.status
        if status is SalesOrderStatus.CANCELLED:
            raise InvalidState(
                f"sales order {sales_order_number} is cancelled",
                kind="sales_order",
                key=sales_order_number,
                state=status.value,
                system="erp",
            )
        if status is not SalesOrderStatus.OPEN:  # shipped or invoiced already
            return _copy(row.order)
        for ref in row.reservation_refs:
            reservation = self._reservations.get(ref)
            if reservation is None or reservation.status is not ReservationStatus.ACTIVE:
                continue
            for line in reservation.lines:
                stock = self._stock[(reservation.sku, line.warehouse)]
                stock.on_hand -= line.quantity
                stock.reserved -= line.quantity
            reservation.status = ReservationStatus.CONSUMED
        row.order.status = SalesOrderStatus.SHIPPED
        row.order.shipped_at = self._now()
        return _copy(row.order)

    async def record_payment(self, invoice_number: str, amount: Decimal, reference: str) -> Invoice:
        """Record a payment on an invoice; idempotent on ``reference``."""
        done = self._payments.get(reference)
        if done is not None:
            if done.invoice_number != invoice_number or done.amount != amount:
                raise IdempotencyConflict(
                    f"payment {reference} was recorded as {done.amount} on invoice "
                    f"{done.invoice_number}, not {amount} on {invoice_number}",
                    reference=reference,
                    system="erp",
                )
            return _copy(self._invoice(invoice_number))
        if amount <= ZERO:
            raise InvalidRecord(
                f"payment {reference}: amount must be positive, got {amount}",
                problems=[f"amount: must be positive, got {amount}"],
                system="erp",
            )
        invoice = self._invoice(invoice_number)
        invoice.amount_paid += amount
        if invoice.amount_paid >= invoice.total:
            invoice.status = InvoiceStatus.PAID
        self._payments[reference] = _Payment(invoice_number=invoice_number, amount=amount)
        return _copy(invoice)

    async def stock_snapshot(self) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        return {key: (s.on_hand, s.reserved) for key, s in self._stock.items()}

    async def count_documents(self, reference_prefix: str) -> dict[str, int]:
        """How many documents of each kind carry a reference starting with the prefix."""

        def count(refs: Sequence[str]) -> int:
            return sum(1 for ref in refs if ref.startswith(reference_prefix))

        return {
            "reservations": count(list(self._reservations)),
            "sales_orders": count(list(self._sales_orders)),
            "invoices": count(list(self._invoice_by_ref)),
            "payments": count(list(self._payments)),
        }

    async def customers_count(self) -> int:
        return len(self._customers)

    # -- lookups ----------------------------------------------------------------------------

    def _customer(self, customer_id: str) -> ErpCustomer:
        customer = self._customers.get(customer_id)
        if customer is None:
            raise RecordNotFound(
                f"ERP customer {customer_id!r} not found",
                kind="customer",
                key=customer_id,
                system="erp",
            )
        return customer

    def _row_by_number(self, number: str) -> _SalesOrderRow:
        reference = self._so_by_number.get(number)
        if reference is None:
            raise RecordNotFound(
                f"ERP sales order {number!r} not found",
                kind="sales_order",
                key=number,
                system="erp",
            )
        return self._sales_orders[reference]

    def _invoice(self, number: str) -> Invoice:
        invoice = self._invoices.get(number)
        if invoice is None:
            raise RecordNotFound(
                f"ERP invoice {number!r} not found", kind="invoice", key=number, system="erp"
            )
        return invoice

    def _next_customer_id(self) -> str:
        while True:
            self._counters.customer += 1
            customer_id = f"C-{self._counters.customer:06d}"
            if customer_id not in self._customers:
                return customer_id

    # -- port: customers --------------------------------------------------------------------

    @_port
    async def find_customer(
        self, *, external_ref: str | None, tax_id: str | None, email: str | None
    ) -> ErpCustomer | None:
        # Several matches of one kind resolve to the lowest customer id, as the sandbox does.
        customers = [c for _, c in sorted(self._customers.items())]
        matchers: list[Callable[[ErpCustomer], bool]] = []
        if external_ref is not None:
            matchers.append(lambda c: c.external_ref == external_ref)
        if tax_id is not None:
            matchers.append(lambda c: c.tax_id == tax_id)
        if email is not None:
            wanted = email.lower()
            matchers.append(lambda c: c.email is not None and c.email.lower() == wanted)
        for matches in matchers:
            for customer in customers:
                if matches(customer):
                    return _copy(customer)
        return None

    @_port
    async def create_customer(self, data: CustomerData) -> ErpCustomer:
        for c in self._customers.values():
            if c.external_ref == data.external_ref:
                return _copy(c)
        customer = ErpCustomer(
            customer_id=self._next_customer_id(),
            external_ref=data.external_ref,
            name=data.name,
            tax_id=data.tax_id,
            email=data.email,
            currency=data.currency,
            credit_limit=ZERO,
        )
        self._customers[customer.customer_id] = customer
        self._opening[customer.customer_id] = ZERO
        return _copy(customer)

    @_port
    async def get_credit_status(self, customer_id: str) -> CreditStatus:
        customer = self._customer(customer_id)
        open_invoices = sum(
            (
                inv.total - inv.amount_paid
                for inv in self._invoices.values()
                if inv.customer_id == customer_id and inv.status is InvoiceStatus.OPEN
            ),
            ZERO,
        )
        return CreditStatus(
            customer_id=customer.customer_id,
            currency=customer.currency,
            credit_limit=customer.credit_limit,
            open_receivables=self._opening.get(customer_id, ZERO) + open_invoices,
            blocked=customer.blocked,
        )

    # -- port: products and stock -----------------------------------------------------------

    @_port
    async def get_products(self, skus: Sequence[str]) -> list[ErpProduct]:
        seen: set[str] = set()
        found: list[ErpProduct] = []
        for sku in skus:
            product = self._products.get(sku)
            if product is not None and sku not in seen:
                seen.add(sku)
                found.append(_copy(product))
        return found

    def _levels(self, sku: str) -> list[tuple[str, _Stock]]:
        """Stock rows of ``sku`` in the ERP's warehouse order."""
        return [
            (code, self._stock[(sku, code)])
            for code in self._warehouses
            if (sku, code) in self._stock
        ]

    @_port
    async def get_stock(self, skus: Sequence[str]) -> list[StockLevel]:
        levels: list[StockLevel] = []
        for sku in dict.fromkeys(skus):
            for code, stock in self._levels(sku):
                levels.append(
                    StockLevel(
                        sku=sku, warehouse=code, on_hand=stock.on_hand, reserved=stock.reserved
                    )
                )
        return levels

    @_port
    async def reserve(self, request: ReservationRequest) -> Reservation:
        existing = self._reservations.get(request.reference)
        if existing is not None:
            if existing.sku != request.sku or existing.quantity != request.quantity:
                raise IdempotencyConflict(
                    f"reservation {request.reference} exists for {existing.quantity} "
                    f"{existing.sku}, not {request.quantity} {request.sku}",
                    reference=request.reference,
                    system="erp",
                )
            return _copy(existing)
        if request.quantity <= ZERO:
            raise InvalidRecord(
                f"reservation {request.reference}: quantity must be positive",
                problems=[f"quantity: must be positive, got {request.quantity}"],
                system="erp",
            )
        levels = self._levels(request.sku)
        available = [(code, stock.on_hand - stock.reserved) for code, stock in levels]
        preferred = list(dict.fromkeys(request.warehouses))  # allocate assumes no duplicates
        lines = allocate(request.quantity, available, preferred)
        if lines is None:
            total = sum((max(a, ZERO) for _, a in available), ZERO)
            raise InsufficientStock(
                f"only {total} of {request.quantity} {request.sku} available",
                sku=request.sku,
                requested=str(request.quantity),
                available=str(total),
                system="erp",
            )
        for line in lines:
            self._stock[(request.sku, line.warehouse)].reserved += line.quantity
        reservation = Reservation(
            reference=request.reference,
            sku=request.sku,
            quantity=request.quantity,
            lines=lines,
            status=ReservationStatus.ACTIVE,
        )
        self._reservations[request.reference] = reservation
        return _copy(reservation)

    @_port
    async def release(self, reference: str) -> Reservation | None:
        reservation = self._reservations.get(reference)
        if reservation is None:
            return None
        if reservation.status is ReservationStatus.CONSUMED:
            raise InvalidState(
                f"reservation {reference} is consumed (shipped)",
                kind="reservation",
                key=reference,
                state=reservation.status.value,
                system="erp",
            )
        if reservation.status is ReservationStatus.ACTIVE:
            for line in reservation.lines:
                self._stock[(reservation.sku, line.warehouse)].reserved -= line.quantity
            reservation.status = ReservationStatus.RELEASED
        return _copy(reservation)

    # -- port: sales orders and invoices ----------------------------------------------------

    @staticmethod
    def _same_sales_order(stored: SalesOrderRequest, asked: SalesOrderRequest) -> bool:
        def lines(r: SalesOrderRequest) -> list[tuple[Any, ...]]:
            return [(x.line_no, x.sku, x.quantity, x.unit_price, x.discount_pct) for x in r.lines]

        return (
            stored.customer_id == asked.customer_id
            and stored.currency == asked.currency
            and stored.tax_pct == asked.tax_pct
            and lines(stored) == lines(asked)
        )

    @staticmethod
    def _line_problems(request: SalesOrderRequest) -> list[str]:
        return sales_order_problems(request.lines)

    @_port
    async def create_sales_order(self, request: SalesOrderRequest) -> SalesOrder:
        existing = self._sales_orders.get(request.reference)
        if existing is not None:
            if not self._same_sales_order(existing.request, request):
                raise IdempotencyConflict(
                    f"sales order {existing.order.number} was created under {request.reference} "
                    "with a different customer, currency, tax or lines",
                    reference=request.reference,
                    system="erp",
                )
            return _copy(existing.order)
        self._customer(request.customer_id)
        problems = self._line_problems(request)
        if problems:
            raise InvalidRecord(
                f"sales order {request.reference} is invalid", problems=problems, system="erp"
            )
        unknown = sorted({line.sku for line in request.lines} - set(self._products))
        if unknown:
            raise RecordNotFound(
                f"ERP product {unknown[0]!r} not found",
                kind="product",
                key=unknown[0],
                system="erp",
            )
        net = sum(
            (
                line_net(
                    CrmOrderLine(
                        line_no=line.line_no,
                        sku=line.sku,
                        quantity=line.quantity,
                        unit_price=line.unit_price,
                        currency=request.currency,
                        discount_pct=line.discount_pct,
                    )
                )
                for line in request.lines
            ),
            ZERO,
        )
        tax = round_money(net * request.tax_pct / HUNDRED)
        refs = list(dict.fromkeys(request.reservation_refs))
        lead_days = max(
            (
                self._warehouses[line.warehouse].lead_days
                for ref in refs
                if ref in self._reservations
                for line in self._reservations[ref].lines
            ),
            default=DEFAULT_LEAD_DAYS,
        )
        order_date = request.order_date or self._today()
        self._counters.sales_order += 1
        order = SalesOrder(
            number=f"SO-{self._counters.sales_order:06d}",
            reference=request.reference,
            customer_id=request.customer_id,
            currency=request.currency,
            status=SalesOrderStatus.OPEN,
            net=net,
            tax=tax,
            total=net + tax,
            promised_date=order_date + timedelta(days=lead_days),
        )
        self._sales_orders[request.reference] = _SalesOrderRow(
            order=order, request=_copy(request), reservation_refs=refs
        )
        self._so_by_number[order.number] = request.reference
        return _copy(order)

    @_port
    async def get_sales_order(self, reference: str) -> SalesOrder | None:
        row = self._sales_orders.get(reference)
        return None if row is None else _copy(row.order)

    @_port
    async def cancel_sales_order(self, reference: str) -> SalesOrder | None:
        row = self._sales_orders.get(reference)
        if row is None:
            return None
        status = row.order.status
        if status in (SalesOrderStatus.SHIPPED, SalesOrderStatus.INVOICED):
            raise InvalidState(
                f"sales order {row.order.number} is {status.value} and cannot be cancelled",
                kind="sales_order",
                key=reference,
                state=status.value,
                system="erp",
            )
        row.order.status = SalesOrderStatus.CANCELLED
        return _copy(row.order)

    @_port
    async def create_invoice(self, request: InvoiceRequest) -> Invoice:
        number = self._invoice_by_ref.get(request.reference)
        if number is not None:
            existing = self._invoices[number]
            if existing.sales_order_number != request.sales_order_number:
                raise IdempotencyConflict(
                    f"invoice {existing.number} was created under {request.reference} for sales "
                    f"order {existing.sales_order_number}, not {request.sales_order_number}",
                    reference=request.reference,
                    system="erp",
                )
            return _copy(existing)
        if request.payment_terms_days < 0:
            raise InvalidRecord(
                f"invoice {request.reference} is invalid",
                problems=[f"payment_terms_days: {request.payment_terms_days} is negative"],
                system="erp",
            )
        row = self._row_by_number(request.sales_order_number)
        order = row.order
        if order.status is not SalesOrderStatus.SHIPPED:
            not_yet = order.status is SalesOrderStatus.OPEN
            raise (NotShipped if not_yet else InvalidState)(
                f"sales order {order.number} is {order.status.value}, not shipped",
                kind="sales_order",
                key=order.number,
                state=order.status.value,
                system="erp",
            )
        issued_on = request.invoice_date or self._today()
        self._counters.invoice += 1
        invoice = Invoice(
            number=f"INV-{self._counters.invoice:06d}",
            reference=request.reference,
            sales_order_number=order.number,
            customer_id=order.customer_id,
            currency=order.currency,
            net=order.net,
            tax=order.tax,
            total=order.total,
            amount_paid=ZERO,
            issued_on=issued_on,
            due_date=issued_on + timedelta(days=request.payment_terms_days),
            # Nothing to collect on a zero invoice: it is settled when issued.
            status=InvoiceStatus.PAID if order.total <= ZERO else InvoiceStatus.OPEN,
        )
        self._invoices[invoice.number] = invoice
        self._invoice_by_ref[request.reference] = invoice.number
        order.status = SalesOrderStatus.INVOICED
        return _copy(invoice)

    @_port
    async def get_invoice(self, number: str) -> Invoice:
        return _copy(self._invoice(number))
