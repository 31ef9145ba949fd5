"""The workflow runner: the SDK's sandbox, without a trip into it for every payload.

Before it encodes or decodes a payload of a workflow task, the SDK asks the workflow instance
which serialization context applies (the workflow's, or a pending activity's) and which external
storage context. With the sandbox, each question is a piece of code compiled and run inside the
sandbox's import hooks: several per payload, about a fifth of a worker's CPU under load
(measured with py-spy on ``bench.order_to_cash``). The answers only matter to a data converter
that uses them, a payload converter, codec or failure converter implementing
``WithSerializationContext``, or external payload storage. peyvand's converter (pydantic JSON,
optionally the AES codec of ``infra/codec.py``) uses neither, so this runner answers both
questions outside the sandbox, with what the converter provably does not care about.

``ContextFreeSandboxRunner.for_converter`` refuses a converter that does care, so adding a
context-aware codec later fails at start-up instead of silently losing its context. Workflow code
still runs in the sandbox, with all its restrictions; the SDK's debug mode (``TEMPORAL_DEBUG``),
which copies the runner with other restrictions, keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

import temporalio.converter
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    NexusSerializationContext,
    StorageDriverStoreContext,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.workflow import Info

__all__ = ["ContextFreeSandboxRunner", "context_free"]

# One context of each kind, unlike any real one: a converter that returns itself for all of them
# ignores contexts (components that take one return a new instance, by the SDK's contract).
_PROBES: tuple[temporalio.converter.SerializationContext, ...] = (
    WorkflowSerializationContext(namespace="probe", workflow_id="probe"),
    ActivitySerializationContext(
        namespace="probe",
        workflow_id="probe",
        workflow_type="probe",
        activity_type="probe",
        activity_task_queue="probe",
        is_local=False,
        activity_id="probe",
    ),
    NexusSerializationContext(endpoint="probe", service="probe", operation="probe"),
)


def context_free(converter: DataConverter) -> bool:
    """Whether ``converter`` encodes and decodes the same whatever the context.

    True when no component takes a serialization context (``with_context`` gives the very same
    converter back) and no external payload storage is configured.
    """
    if converter.external_storage is not None:
        return False
    return all(converter.with_context(probe) is converter for probe in _PROBES)


class _Instance(WorkflowInstance):
    """A sandboxed workflow instance whose context questions are answered outside it."""

    def __init__(self, inner: WorkflowInstance, info: Info) -> None:
        self._inner = inner
        self._context = WorkflowSerializationContext(
            namespace=info.namespace, workflow_id=info.workflow_id
        )
        self._store = StorageDriverStoreContext(target=None)

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self._inner.activate(act)

    def get_serialization_context(
        self, command_info: object | None
    ) -> temporalio.converter.SerializationContext | None:
        # The workflow's own context: the one the SDK has a ready converter for, and for a
        # context-free converter the same as any other.
        return self._context

    def get_external_store_context(self, command_info: object | None) -> StorageDriverStoreContext:
        return self._store  # no external storage: never read

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()


@dataclass(frozen=True)
class ContextFreeSandboxRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` for a worker whose data converter ignores contexts.

    Build it with ``for_converter``, which checks the converter; its fields are the SDK
    runner's, so the SDK can copy it like its own.
    """

    @classmethod
    def for_converter(
        cls, converter: DataConverter, restrictions: SandboxRestrictions
    ) -> ContextFreeSandboxRunner:
        """The runner for a worker with ``converter`` (its client's).

        Raises:
            ValueError: ``converter`` takes serialization contexts or stores payloads externally.
        """
        if not context_free(converter):
            raise ValueError(
                "the data converter uses serialization contexts or external storage: "
                "use SandboxedWorkflowRunner, which asks the workflow for them"
            )
        return cls(restrictions=restrictions)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(super().create_instance(det), det.info)
