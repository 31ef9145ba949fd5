"""Where one workflow's time went, read back from its history."""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client


async def _count(client: Client, workflow_id: str, kind: EventType.ValueType) -> int:
    """How many events of ``kind`` the run of ``workflow_id`` holds."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(1 for e in history.events if e.event_type == kind)


async def activities_per_run(client: Client, workflow_id: str) -> int:
    """How many activities the run of ``workflow_id`` scheduled."""
    return await _count(client, workflow_id, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)


async def explain(client: Client, workflow_id: str) -> None:
    """Print each activity's queue wait and run time, and the history's make-up."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    first = history.events[0].event_time.ToDatetime()
    scheduled: dict[int, tuple[str, float]] = {}
    started: dict[int, float] = {}
    print(f"timeline of {workflow_id} (ms from start: activity, waited in queue, ran):")
    for e in history.events:
        t = (e.event_time.ToDatetime() - first).total_seconds() * 1000
        if e.HasField("activity_task_scheduled_event_attributes"):
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[e.event_id] = (name, t)
        elif e.HasField("activity_task_started_event_attributes"):
            started[e.activity_task_started_event_attributes.scheduled_event_id] = t
        elif e.HasField("activity_task_completed_event_attributes"):
            sid = e.activity_task_completed_event_attributes.scheduled_event_id
            name, t0 = scheduled[sid]
            t1 = started.get(sid, t0)
            print(f"  {t0:7.0f} {name:26} queue {t1 - t0:6.0f}  run {t - t1:6.0f}")
        elif e.HasField("workflow_execution_signaled_event_attributes"):
            print(f"  {t:7.0f} signal {e.workflow_execution_signaled_event_attributes.signal_name}")
    print(
        f"  {(history.events[-1].event_time.ToDatetime() - first).total_seconds() * 1000:7.0f} end"
    )
    # Each workflow task is a round trip and a history write on the server (the bare workflow
    # of n activities has n + 1), and each search attribute upsert a visibility write.
    kinds = Counter(EventType.Name(e.event_type)[len("EVENT_TYPE_") :] for e in history.events)
    size = sum(e.ByteSize() for e in history.events)
    print(f"  {len(history.events)} history events ({size} bytes):")
    for kind, count in sorted(kinds.items()):
        print(f"    {count:3d} {kind}")


async def tasks_per_run(client: Client, workflow_ids: list[str]) -> float:
    """The mean count of workflow tasks in the histories of ``workflow_ids``."""
    done = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    counts = [await _count(client, workflow_id, done) for workflow_id in workflow_ids]
    return sum(counts) / len(counts)
