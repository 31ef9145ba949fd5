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
from datetime import UTC, date, datetime
from decimal import Decimal

from adapters.ports import ERPPort
from domain.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidRecord,
    InvalidState,
    RecordNotFound,
)
from domain.models import (
    CreditStatus,
    CustomerData,
    ErpCustomer,
    ErpProduct,
    Invoice,
    InvoiceStatus,
    Reservation,
    ReservationRequest,
    ReservationStatus,
    StockLevel,
)
from domain.money import ZERO
from domain.rules import allocate
from tests.fakes_crm import InMemoryCRM
from tests.fakes_documents import InMemoryDocuments
from tests.fakes_records import _Counters, _Payment, _SalesOrderRow, _Stock, _Warehouse
from tests.fakes_returns import InMemoryReturns
from tests.fault_injection import FaultInjection, _copy, _port

__all__ = ["FaultInjection", "InMemoryCRM", "InMemoryERP"]


class InMemoryERP(InMemoryReturns, InMemoryDocuments, FaultInjection, ERPPort):
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
