"""``erp_get_order_facts``: an order's products and its customer's credit in one activity."""

from __future__ import annotations

from decimal import Decimal

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.erp import ErpActivities, GetOrderFactsInput
from domain.models import ErpCustomer, ErpProduct
from tests.fakes import InMemoryERP


async def _erp() -> InMemoryERP:
    erp = InMemoryERP()
    await erp.upsert_product(
        ErpProduct(sku="P1", name="Pump", list_price=Decimal("100"), currency="EUR")
    )
    await erp.upsert_customer(
        ErpCustomer(customer_id="C-1", name="Acme", currency="EUR", credit_limit=Decimal(5000))
    )
    return erp


async def test_products_and_credit_together() -> None:
    acts = ErpActivities(await _erp())
    facts = await ActivityEnvironment().run(
        acts.get_order_facts, GetOrderFactsInput(skus=["P1", "NOPE"], customer_id="C-1")
    )
    assert [p.sku for p in facts.products] == ["P1"]  # unknown SKUs are the validator's to name
    assert facts.credit is not None
    assert (facts.credit.customer_id, facts.credit.credit_limit) == ("C-1", Decimal(5000))


async def test_a_customer_not_known_yet_reads_products_only() -> None:
    erp = await _erp()
    facts = await ActivityEnvironment().run(
        ErpActivities(erp).get_order_facts, GetOrderFactsInput(skus=["P1"])
    )
    assert facts.credit is None and [p.sku for p in facts.products] == ["P1"]
    assert "get_credit_status" not in erp.calls


async def test_no_skus_asks_for_no_products() -> None:
    erp = await _erp()
    facts = await ActivityEnvironment().run(
        ErpActivities(erp).get_order_facts, GetOrderFactsInput(skus=[], customer_id="C-1")
    )
    assert facts.products == [] and facts.credit is not None
    assert "get_products" not in erp.calls


async def test_an_unknown_customer_is_a_permanent_failure() -> None:
    acts = ErpActivities(await _erp())
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(
            acts.get_order_facts, GetOrderFactsInput(skus=["P1"], customer_id="C-404")
        )
    assert info.value.non_retryable and info.value.type == "RecordNotFound"
