"""Settings from the environment (prefix ``PEYVAND_``) or a ``.env`` file.

Example: ``PEYVAND_TEMPORAL_ADDRESS=temporal.example.com:7233``,
``PEYVAND_ERP_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/erp``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


def callable_host(host: str) -> str:
    """``host`` as a local client writes it in a URL: a wildcard bind is not an address to
    call, so it becomes localhost; an IPv6 literal gets its brackets."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        return "localhost"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class QueueSettings(BaseSettings):
    """How hard one worker may push one external system."""

    max_concurrent_activities: int = 20
    max_activities_per_second: float | None = None
    max_task_queue_activities_per_second: float | None = None

    @property
    def rate_limited(self) -> bool:
        """True when a rate is set: every call must then pass through the server's queue."""
        return (
            self.max_activities_per_second is not None
            or self.max_task_queue_activities_per_second is not None
        )


class Settings(BaseSettings):
    """Everything peyvand reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="PEYVAND_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: str | None = None

    # Task queues: one per external system, so a slow CRM never starves the ERP. Unless set, the
    # ERP's is the workflows' own: its activities then run eagerly, handed to the worker with
    # the workflow task that schedules them (worker.build_workers).
    workflow_task_queue: str = Field(default="peyvand-orders", min_length=1)
    crm_task_queue: str = Field(default="peyvand-crm", min_length=1)
    erp_task_queue: str = Field(default="peyvand-orders", min_length=1)
    # Queues the ERP's activities used before (peyvand-erp was the default until 2026-11-30):
    # runs started then still schedule their ERP calls there, so ERP workers keep polling them.
    # Set it to [] once no such run is open (docs/deployment.md). JSON in the environment.
    erp_drain_task_queues: list[str] = Field(default_factory=lambda: ["peyvand-erp"])
    crm: QueueSettings = Field(default_factory=QueueSettings)
    # The SDK's own default: the ERP's free slots also bound how many of its activities the
    # server can hand over eagerly; at 20, a busy worker sent the rest through matching (at 50
    # concurrent orders in bench.order_to_cash, 145 ms of server CPU per order against 123 ms).
    erp: QueueSettings = Field(default_factory=lambda: QueueSettings(max_concurrent_activities=100))

    # The order-to-cash process version new orders start with; default: the newest this code
    # knows. Pin it to the old one while a rolling upgrade still has older workers running
    # (docs/deployment.md): an older worker must never run a newer version.
    order_process_version: int | None = Field(default=None, ge=1)

    # Sandbox systems (the embedded default)
    data_dir: Path = ROOT / "data"
    crm_database_url: str | None = None
    erp_database_url: str | None = None
    sandbox_latency_ms: int = 0

    # Approvals: the policy and the sandbox directory, read again whenever the files change
    approval_policy_file: Path = ROOT / "config" / "approval-policy.yaml"
    directory_file: Path = ROOT / "config" / "directory.yaml"

    # Embedded dev server
    dev_server_port: int = 7233
    dev_server_ui_port: int = 8233

    # Encrypted history (infra/codec.py): "keyid:base64key,…" (32-byte keys), or a file of such
    # lines; the active key encrypts, the others still decrypt. Without either, the embedded
    # server's data/codec-keys is used (created by ``worker.py --embedded``).
    codec_keys: SecretStr | None = None
    codec_active_key: str | None = None
    codec_key_file: Path | None = None
    # Web UI origins allowed to call the codec server; default: the embedded UI's.
    codec_cors_origins: list[str] | None = None

    # HTTP ingress (ingress/): webhooks, approvals API, status, codec server
    ingress_host: str = "127.0.0.1"
    ingress_port: int = 8000
    ingress_database_url: str | None = None  # remembered event ids; SQLite in data_dir
    ingress_crm_secret: SecretStr | None = None  # HMAC secret of the CRM's webhooks
    ingress_erp_secret: SecretStr | None = None  # HMAC secret of the ERP's webhooks
    ingress_replay_window_seconds: int = 300
    ingress_api_keys_file: Path | None = None  # hashed API keys; default data_dir/api-keys.json

    # Observability (infra/logging.py, infra/metrics.py, infra/tracing.py)
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"  # json in production, one object a line
    # host:port of the worker's Prometheus endpoint (SDK runtime and business metrics); off when
    # unset, except that ``worker.py --embedded`` serves it on 127.0.0.1:9464.
    metrics_address: str | None = None
    # OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces; off unless set.
    otel_endpoint: str | None = None
    otel_service_name: str = "peyvand"

    @model_validator(mode="after")
    def _queues(self) -> Settings:
        if "erp_task_queue" not in self.model_fields_set:
            # Marks the field as set: a later model_copy changing the workflows' queue keeps
            # this one (no code does that; build_workers checks the CRM apart again).
            self.erp_task_queue = self.workflow_task_queue
        if self.crm_task_queue in self.erp_queues:
            raise ValueError(
                f"the CRM and the ERP share the task queue {self.crm_task_queue!r}: each needs "
                "its own, so a slow CRM never takes the ERP's slots"
            )
        return self

    @field_validator("data_dir", "approval_policy_file", "directory_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else ROOT / value

    @property
    def erp_queues(self) -> tuple[str, ...]:
        """Every queue the ERP's activities are polled on: its own, then the drained ones."""
        return (self.erp_task_queue, *self.erp_drain_task_queues)

    @property
    def crm_url(self) -> str:
        """SQLAlchemy URL of the sandbox CRM database (SQLite file in ``data_dir`` by default)."""
        return self.crm_database_url or f"sqlite+aiosqlite:///{self.data_dir / 'crm.sqlite'}"

    @property
    def erp_url(self) -> str:
        """SQLAlchemy URL of the sandbox ERP database (SQLite file in ``data_dir`` by default)."""
        return self.erp_database_url or f"sqlite+aiosqlite:///{self.data_dir / 'erp.sqlite'}"

    @property
    def ingress_url(self) -> str:
        """SQLAlchemy URL of the ingress's own database (remembered webhook events)."""
        return self.ingress_database_url or (
            f"sqlite+aiosqlite:///{self.data_dir / 'ingress.sqlite'}"
        )

    @property
    def ingress_base_url(self) -> str:
        """The ingress's address as a local client calls it (a wildcard bind is not callable)."""
        return f"http://{callable_host(self.ingress_host)}:{self.ingress_port}"

    @property
    def api_keys_path(self) -> Path:
        """Where the approvals API's hashed keys are kept."""
        return self.ingress_api_keys_file or self.data_dir / "api-keys.json"

    @property
    def codec_origins(self) -> list[str]:
        """Origins of the Web UIs allowed to decode payloads through the codec server."""
        if self.codec_cors_origins is not None:
            return self.codec_cors_origins
        port = self.dev_server_ui_port
        return [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
