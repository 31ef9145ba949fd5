"""What a workflow's history shows: its Update events, search attribute writes and
activities, read back by the workflow tests."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle


async def update_events(handle: WorkflowHandle[Any, Any]) -> dict[str, int]:
    """How many Update events of each kind the workflow's history holds."""
    counts = {"admitted": 0, "accepted": 0, "rejected": 0, "completed": 0}
    kinds = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED: "admitted",
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "accepted",
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED: "rejected",
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: "completed",
    }
    history = await handle.fetch_history()
    for event in history.events:
        kind = kinds.get(event.event_type)
        if kind:
            counts[kind] += 1
    return counts


async def search_attribute_writes(handle: WorkflowHandle[Any, Any]) -> list[list[str]]:
    """The search attributes each upsert in the workflow's history wrote, names sorted."""
    history = await handle.fetch_history()
    return [
        sorted(
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        )
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]


async def activity_count(handle: WorkflowHandle[Any, Any], name: str) -> int:
    """How many ``name`` activities the workflow's history scheduled."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.activity_task_scheduled_event_attributes.activity_type.name == name
    )
