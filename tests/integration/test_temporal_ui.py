"""The Temporal Web UI, driven by headless Chromium, finds orders by our search attributes.

A dev server with its Web UI runs real workers on the seeded sandbox. Two orders for different
customers wait for shipment; in the UI's workflow list an operator types a query on
``CustomerId`` and sees only that customer's order, then opens it and reads our static summary,
its current details and its ``OrderStatus`` search attribute.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/dev.sh test``); Playwright
never downloads a browser. Requests to anything but the dev server's UI are blocked, so the test
never reaches the internet.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route, async_playwright, expect
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.sandbox import SandboxCRM, SandboxERP, seed
from domain.models import CrmOrder, CrmOrderLine
from domain.orders import OrderStatus
from infra.devserver import free_port
from infra.orders import order_input, reached, start_order, wait_for
from tests.integration.conftest import Stack, stack_settings
from tests.temporal_envs import dev_server
from worker import build_workers
from workflows.order_to_cash.models import workflow_id

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.devserver,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (bash scripts/dev.sh test does)",
    ),
]

WAIT_MS = 30_000  # each UI step: the list and the workflow page poll the server


@dataclass
class UiServer:
    env: WorkflowEnvironment
    url: str


@pytest.fixture(scope="module")
async def ui_server() -> AsyncIterator[UiServer]:
    """A dev server of its own with the Web UI on a free port (the session's has none)."""
    port = free_port()
    env = await dev_server(ui_port=port)
    try:
        yield UiServer(env=env, url=f"http://127.0.0.1:{port}")
    finally:
        await env.shutdown()


@pytest.fixture
async def ui_stack(
    ui_server: UiServer, sandbox: tuple[SandboxCRM, SandboxERP]
) -> AsyncIterator[Stack]:
    """Real workers, as in the ``stack`` fixture, on the UI's server."""
    crm, erp = sandbox
    env = ui_server.env
    settings = stack_settings(env, "sqlite+aiosqlite://", "sqlite+aiosqlite://")
    workers = build_workers(env.client, settings, crm, erp)
    for w in workers:
        await w.__aenter__()
    try:
        yield Stack(client=env.client, settings=settings, crm=crm, erp=erp)
    finally:
        for w in reversed(workers):
            await w.__aexit__(None, None, None)


def small_order(order_id: str, account: str, sku: str) -> CrmOrder:
    line = CrmOrderLine(
        line_no=1, sku=sku, quantity=Decimal("2"), unit_price=Decimal("10"), currency="EUR"
    )
    return CrmOrder(
        order_id=order_id, account_id=account, owner=seed.SALES_REP, currency="EUR", lines=[line]
    )


async def wait_listable(client: Client, query: str, expected: set[str], timeout: float) -> None:
    """Visibility is eventually consistent: wait until ``query`` lists exactly ``expected``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: set[str] = set()
    while loop.time() < deadline:
        found = {wf.id async for wf in client.list_workflows(query)}
        if found == expected:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{query!r} lists {sorted(found)}, not {sorted(expected)}")


async def test_operator_filters_orders_by_customer_and_reads_one(
    ui_server: UiServer, ui_stack: Stack, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    wanted = small_order(f"UI-{run}-1", seed.ACCOUNT_NOVIN, seed.SKU_SENSOR)
    other = small_order(f"UI-{run}-2", seed.ACCOUNT_SEPAHAN, seed.SKU_PLC)
    for order in (wanted, other):
        assert await ui_stack.crm.create_order(order)
        settings = ui_stack.settings
        await start_order(ui_stack.client, settings, order_input(settings, order.order_id))
    details: dict[str, str] = {}
    for order in (wanted, other):
        state = await wait_for(
            ui_stack.client, order.order_id, reached(OrderStatus.AWAITING_SHIPMENT)
        )
        assert state.status is OrderStatus.AWAITING_SHIPMENT, state.reason
        details[order.order_id] = state.detail  # "SO-000001 promised for …"

    wanted_id, other_id = workflow_id(wanted.order_id), workflow_id(other.order_id)
    # Both orders share this run's prefix: only CustomerId tells them apart.
    mine = f'OrderId STARTS_WITH "UI-{run}-"'
    query = f'CustomerId = "{seed.ACCOUNT_NOVIN}" AND {mine}'
    await wait_listable(ui_stack.client, query, {wanted_id}, timeout=30)
    both = f'OrderStatus = "{OrderStatus.AWAITING_SHIPMENT.value}" AND {mine}'
    await wait_listable(ui_stack.client, both, {wanted_id, other_id}, timeout=30)

    blocked: list[str] = []
    ui_host = urlsplit(ui_server.url).netloc

    async def local_only(route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("http", "https") and parts.netloc != ui_host:
            blocked.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    screenshot = tmp_path / "temporal-ui-failure.png"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1600, "height": 1000})
            await context.route("**/*", local_only)
            page = await context.new_page()
            page.set_default_timeout(WAIT_MS)
            try:
                await filter_and_open(page, ui_server.url, query, wanted_id, other_id)
                await read_order(page, wanted.order_id, details[wanted.order_id])
            except (AssertionError, PlaywrightError) as err:
                try:
                    await page.screenshot(path=str(screenshot), full_page=True)
                    shot = f"screenshot: {screenshot}"
                except PlaywrightError as failed:
                    shot = f"no screenshot: {failed}"
                raise AssertionError(
                    f"Temporal UI check failed at {page.url} ({shot}; "
                    f"blocked requests: {blocked or 'none'}): {err}"
                ) from err
        finally:
            await browser.close()


async def filter_and_open(
    page: Page, ui_url: str, query: str, wanted_id: str, other_id: str
) -> None:
    """In the workflow list, type ``query`` as an operator does and open the one order listed."""
    await page.goto(f"{ui_url}/namespaces/default/workflows")
    wanted_link = page.get_by_role("link", name=wanted_id, exact=True)
    other_link = page.get_by_role("link", name=other_id, exact=True)
    # Unfiltered, the UI lists both orders: the filter below is what hides one.
    await expect(wanted_link).to_be_visible(timeout=WAIT_MS)
    await expect(other_link).to_be_visible(timeout=WAIT_MS)

    await page.get_by_test_id("toggle-manual-query").click()
    box = page.get_by_test_id("workflow-manual-search-input")
    await box.fill(query)
    await page.get_by_test_id("workflow-manual-search-button").click()

    await expect(page).to_have_url(re.compile(r"[?&]query=CustomerId"), timeout=WAIT_MS)
    await expect(other_link).to_have_count(0, timeout=WAIT_MS)
    await expect(wanted_link).to_be_visible(timeout=WAIT_MS)
    rows = page.locator('input[aria-label^="Select Workflow "]')
    await expect(rows).to_have_count(1, timeout=WAIT_MS)
    await expect(rows).to_have_attribute("aria-label", f"Select Workflow {wanted_id}")

    await wanted_link.click()
    await expect(page).to_have_url(re.compile(rf"/workflows/{re.escape(wanted_id)}/"))


async def read_order(page: Page, order_id: str, detail: str) -> None:
    """The order's page shows our summary, current details and OrderStatus."""
    await expect(page.get_by_role("heading", name=workflow_id(order_id))).to_be_visible(
        timeout=WAIT_MS
    )
    await page.get_by_role("tab", name="User Metadata").click()
    # The UI renders each of them as markdown in an iframe of its own.
    summary = page.frame_locator("iframe#user-metadata-summary")
    await expect(summary.get_by_text(f"Order-to-cash for CRM order {order_id}")).to_be_visible(
        timeout=WAIT_MS
    )
    current = page.frame_locator("iframe#user-metadata-current-details")
    await expect(current.get_by_text("AWAITING_SHIPMENT", exact=True)).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(current.get_by_text(detail)).to_be_visible(timeout=WAIT_MS)

    await page.get_by_role("tab", name="Search Attributes").click()
    attrs = page.get_by_text(f'"OrderStatus": "{OrderStatus.AWAITING_SHIPMENT.value}"')
    await expect(attrs.first).to_be_visible(timeout=WAIT_MS)
