"""Customer resolution: a CRM account not yet linked is matched to, or becomes, an ERP customer."""

from __future__ import annotations

from decimal import Decimal

from domain.models import CrmAccount, ErpCustomer
from domain.orders import OrderPolicy, OrderStatus
from domain.rules import ApprovalRules
from tests.workflows.conftest import LINKED_CUSTOMER, O2C


async def _existing_customer(o2c: O2C, **fields: str) -> None:
    """An ERP customer with its own reference (not the CRM account id) and a big credit line."""
    await o2c.erp.upsert_customer(
        ErpCustomer(
            customer_id="C-700001",
            external_ref="LEGACY-42",
            name="Old name",
            currency="EUR",
            credit_limit=Decimal("50000"),
            **fields,
        )
    )


async def _account(o2c: O2C, **fields: str) -> str:
    await o2c.crm.upsert_account(CrmAccount(account_id="A-FRESH", name="Fresh Co", **fields))
    return "A-FRESH"


async def test_new_account_matched_by_tax_id(o2c: O2C) -> None:
    await _existing_customer(o2c, tax_id="IR-123", email="other@old.example")
    account = await _account(o2c, tax_id="IR-123", email="fresh@new.example")
    customers = await o2c.erp.customers_count()
    order_id = await o2c.order(account_id=account)
    handle = await o2c.start(order_id)

    # Matched customer has credit for 800 EUR: straight to the sales order.
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.erp_customer_id == "C-700001"
    assert await o2c.erp.customers_count() == customers
    assert "create_customer" not in o2c.erp.calls
    assert (await o2c.crm.get_account(account)).erp_customer_id == "C-700001"
    so = await o2c.erp.get_sales_order(f"order-{order_id}/sales-order")
    assert so is not None and so.customer_id == "C-700001"
    assert any(
        e.kind == "customer" and e.detail == "matched existing ERP customer C-700001"
        for e in state.events
    )


async def test_new_account_matched_by_email_case_insensitively(o2c: O2C) -> None:
    await _existing_customer(o2c, tax_id="IR-999", email="Buyer@Fresh.example")
    account = await _account(o2c, tax_id="IR-000", email="buyer@fresh.EXAMPLE")
    customers = await o2c.erp.customers_count()
    order_id = await o2c.order(account_id=account)
    handle = await o2c.start(order_id)

    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.erp_customer_id == "C-700001"
    assert await o2c.erp.customers_count() == customers
    assert "create_customer" not in o2c.erp.calls
    assert (await o2c.crm.get_account(account)).erp_customer_id == "C-700001"


async def test_customer_created_once_when_nothing_matches_despite_retry(o2c: O2C) -> None:
    await _existing_customer(o2c, tax_id="IR-999", email="someone@else.example")
    account = await _account(o2c, tax_id="IR-555", email="new@fresh.example")
    customers = await o2c.erp.customers_count()
    # The customer is written, then the reply is lost: ensure_customer runs again.
    o2c.erp.fail_after_commit["create_customer"] = 1
    order_id = await o2c.order(account_id=account)
    handle = await o2c.start(order_id)

    # A new customer has no credit line: the order waits for approval of the credit excess.
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_APPROVAL)
    assert await o2c.erp.customers_count() == customers + 1
    assert o2c.erp.calls.count("create_customer") == 1  # the retry found it by reference
    linked = (await o2c.crm.get_account(account)).erp_customer_id
    assert linked is not None and linked == state.erp_customer_id
    created = await o2c.erp.find_customer(external_ref=account, tax_id=None, email=None)
    assert created is not None and created.customer_id == linked
    assert (created.tax_id, created.email) == ("IR-555", "new@fresh.example")
    assert state.approval is not None
    assert any("credit limit" in r for r in state.approval.reasons)


async def test_second_order_of_a_linked_account_skips_the_lookup(o2c: O2C) -> None:
    order_id = await o2c.order()
    handle = await o2c.start(order_id)
    state = await o2c.wait_for(handle, OrderStatus.AWAITING_SHIPMENT)
    assert state.erp_customer_id == "C-900001"
    assert "find_customer" not in o2c.erp.calls
    assert "link_account" not in o2c.crm.calls


async def _linked_customer(o2c: O2C, **fields: object) -> None:
    customer = await o2c.erp.find_customer(external_ref="A-LINKED", tax_id=None, email=None)
    assert customer is not None and customer.customer_id == LINKED_CUSTOMER
    await o2c.erp.upsert_customer(customer.model_copy(update=fields))


async def test_blocked_customer_rejected_before_reserving(o2c: O2C) -> None:
    await _linked_customer(o2c, blocked=True)
    before = await o2c.erp.stock_snapshot()
    order_id = await o2c.order()
    result = await (await o2c.start(order_id)).result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason == f"customer {LINKED_CUSTOMER} is blocked in the ERP"
    assert "reserve" not in o2c.erp.calls
    assert await o2c.erp.stock_snapshot() == before
    assert (await o2c.crm_statuses(order_id))[-1].value == "rejected"


async def test_credit_excess_rejected_when_policy_forbids_approval(o2c: O2C) -> None:
    await _linked_customer(o2c, credit_limit=Decimal("500"))
    order_id = await o2c.order()  # 800 EUR
    policy = OrderPolicy(approval=ApprovalRules(approve_credit_excess=False))
    result = await (await o2c.start(order_id, policy=policy)).result()

    assert result.status is OrderStatus.REJECTED
    assert result.reason == "credit limit exceeded by 300.00"
    assert "reserve" not in o2c.erp.calls
