"""The context-free sandbox runner (``infra/runner.py``): what it refuses, and that workflows run
under it as under the SDK's own sandbox, with the codec still applied to every payload."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Sequence
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from infra.codec import KeyRing, data_converter
from infra.runner import ContextFreeSandboxRunner, context_free
from tests.temporal_envs import time_skipping
from worker import SANDBOX_RESTRICTIONS, workflow_runner

RING = KeyRing(keys={"k1": os.urandom(32)}, active="k1")


class _ContextCodec(PayloadCodec, WithSerializationContext):
    """A codec that would encode differently per workflow or activity."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    def with_context(self, context: SerializationContext) -> _ContextCodec:
        return _ContextCodec(context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def test_plain_and_encrypting_converters_are_context_free() -> None:
    assert context_free(pydantic_data_converter)
    assert context_free(data_converter(RING))


def test_a_context_aware_codec_is_refused() -> None:
    aware = dataclasses.replace(pydantic_data_converter, payload_codec=_ContextCodec())
    assert not context_free(aware)
    with pytest.raises(ValueError, match="serialization contexts"):
        ContextFreeSandboxRunner.for_converter(aware, SANDBOX_RESTRICTIONS)
    # The worker then falls back to the SDK's sandbox, which asks the workflow for contexts.
    runner = workflow_runner(SimpleNamespace(data_converter=aware))  # type: ignore[arg-type]
    assert type(runner) is SandboxedWorkflowRunner


def test_the_worker_takes_the_context_free_runner_for_its_converter() -> None:
    client: Any = SimpleNamespace(data_converter=data_converter(RING))
    assert isinstance(workflow_runner(client), ContextFreeSandboxRunner)


def test_the_sdk_debug_mode_can_copy_the_runner() -> None:
    # With TEMPORAL_DEBUG the SDK copies the runner with other restrictions.
    runner = ContextFreeSandboxRunner.for_converter(pydantic_data_converter, SANDBOX_RESTRICTIONS)
    everything = SANDBOX_RESTRICTIONS.with_passthrough_all_modules()
    copy = dataclasses.replace(runner, restrictions=everything)
    assert type(copy) is ContextFreeSandboxRunner
    assert copy.restrictions is not runner.restrictions


@activity.defn(name="runner_test_shout")
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn(name="RunnerTestWorkflow")
class _Echo:
    def __init__(self) -> None:
        self._heard: list[str] = []

    @workflow.signal
    def hear(self, text: str) -> None:
        self._heard.append(text)

    @workflow.run
    async def run(self, text: str) -> list[str]:
        loud = await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=10), summary="shout it"
        )
        await workflow.wait_condition(lambda: bool(self._heard))
        return [loud, *self._heard, str(workflow.unsafe.in_sandbox())]


async def test_a_workflow_runs_sandboxed_and_every_payload_is_encrypted() -> None:
    converter = data_converter(RING)
    env = await time_skipping(converter)
    try:
        client: Client = env.client
        queue = f"runner-{uuid.uuid4()}"
        async with Worker(
            client,
            task_queue=queue,
            workflows=[_Echo],
            activities=[shout],
            # This module comes in as it is (pytest and all); the call restrictions still apply.
            workflow_runner=ContextFreeSandboxRunner.for_converter(
                converter, SANDBOX_RESTRICTIONS.with_passthrough_modules(__name__)
            ),
        ):
            handle = await client.start_workflow(
                _Echo.run, "salam", id=f"runner-{uuid.uuid4()}", task_queue=queue
            )
            await handle.signal(_Echo.hear, "dorood")
            assert await handle.result() == ["SALAM", "dorood", "True"]
            raw = await handle.fetch_history()
    finally:
        await env.shutdown()
    payloads = [
        p
        for e in raw.events
        for p in (
            list(e.workflow_execution_started_event_attributes.input.payloads)
            + list(e.activity_task_scheduled_event_attributes.input.payloads)
            + list(e.activity_task_completed_event_attributes.result.payloads)
            + list(e.workflow_execution_signaled_event_attributes.input.payloads)
            + list(e.workflow_execution_completed_event_attributes.result.payloads)
        )
    ]
    assert len(payloads) == 5
    for payload in payloads:
        assert payload.metadata["encoding"] == b"binary/encrypted"
        assert b"salam" not in payload.data.lower() and b"dorood" not in payload.data
