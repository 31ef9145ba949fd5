"""Business metrics, recorded from workflow code through the SDK's replay-safe metric meter.

The meter records nothing while a history is replayed, so an order counts once however often its
workflow is replayed on other workers. The worker's runtime exports these next to the SDK's own
metrics on its Prometheus endpoint (``infra/metrics.py``); every series also carries the SDK's
``namespace``, ``task_queue`` and ``workflow_type`` labels. Labels here are small closed sets
(statuses, reason kinds), never order or customer ids, so the series count stays bounded.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

ORDERS_STARTED = "peyvand_orders_started"
ORDERS_COMPLETED = "peyvand_orders_completed"
ORDERS_STOPPED = "peyvand_orders_stopped"
ORDERS_COMPENSATED = "peyvand_orders_compensated"
CRM_TO_ERP_SECONDS = "peyvand_crm_to_erp_seconds"
APPROVAL_WAIT_SECONDS = "peyvand_approval_wait_seconds"
RETURNS_STARTED = "peyvand_returns_started"
RETURNS_ENDED = "peyvand_returns_ended"

# Histogram buckets in seconds, given to the Prometheus exporter: the CRM→ERP KPI is 5 minutes,
# so its buckets are fine below that; approvals wait for people, minutes to a week.
BUCKETS: dict[str, list[float]] = {
    CRM_TO_ERP_SECONDS: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
    APPROVAL_WAIT_SECONDS: [60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400],
}


def order_started() -> None:
    """An order entered order-to-cash (not counted again when its run continues as new)."""
    workflow.metric_meter().create_counter(ORDERS_STARTED, "orders that entered order-to-cash").add(
        1
    )


def order_completed() -> None:
    """An order was paid in full and closed."""
    workflow.metric_meter().create_counter(ORDERS_COMPLETED, "orders paid and closed").add(1)


def order_stopped(status: str, reason: str, *, compensated: bool) -> None:
    """An order ended rejected or cancelled, or failed after shipment and was left for a person;
    ``compensated`` when undo steps ran first. With ``order_started`` and ``order_completed``,
    every run that counts a start counts one end.

    Args:
        status: ``REJECTED``, ``CANCELLED``, or ``NEEDS_ATTENTION`` (after shipment).
        reason: A reason kind from a closed set (``credit-limit``, ``out-of-stock``, an error
            type…), not the free-text reason.
        compensated: Whether reservations or an ERP order were undone.
    """
    meter = workflow.metric_meter()
    labels = {"status": status, "reason": reason}
    meter.create_counter(
        ORDERS_STOPPED, "orders ended rejected, cancelled, or left for a person"
    ).add(1, labels)
    if compensated:
        meter.create_counter(
            ORDERS_COMPENSATED, "orders whose reservations or ERP order were undone"
        ).add(1, labels)


def crm_to_erp(elapsed: timedelta) -> None:
    """Time from the order's arrival to its ERP sales order: the KPI, under 5 minutes."""
    workflow.metric_meter().create_histogram_float(
        CRM_TO_ERP_SECONDS, "time from the CRM order to its ERP sales order", "s"
    ).record(elapsed.total_seconds())


def approval_waited(kind: str, outcome: str, elapsed: timedelta) -> None:
    """Time an approval chain waited for its people, by request kind and outcome."""
    workflow.metric_meter().create_histogram_float(
        APPROVAL_WAIT_SECONDS, "time from an approval request to its outcome", "s"
    ).record(elapsed.total_seconds(), {"kind": kind, "outcome": outcome})


def return_started() -> None:
    """A return request entered return-to-restock."""
    workflow.metric_meter().create_counter(RETURNS_STARTED, "returns that entered the process").add(
        1
    )


def return_ended(status: str) -> None:
    """A return reached a final status or was left for a person."""
    workflow.metric_meter().create_counter(RETURNS_ENDED, "returns ended, by status").add(
        1, {"status": status}
    )
