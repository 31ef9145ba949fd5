"""What the compose-file tests share: where the files are, what the topology must hold, and
how compose reads a service's environment (interpolation, env files, ports, depends_on)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
INIT_SQL = ROOT / "deploy" / "postgres" / "init-databases.sh"
SETUP_NAMESPACE = ROOT / "deploy" / "temporal" / "setup-namespace.sh"

#: Long-running services: each needs a healthcheck, and is waited for with service_healthy.
LONG_RUNNING = {"postgresql", "temporal", "temporal-ui", "worker", "ingress"}
#: One-shot services: each runs to completion, and is waited for with
#: service_completed_successfully.
ONE_SHOT = {"temporal-schema", "temporal-setup", "sandbox-setup"}
#: The services running our image, which read ``infra.settings.Settings``.
PEYVAND = {"sandbox-setup", "worker", "ingress"}

#: Settings the compose topology leaves at their defaults on purpose, with the reason.
NOT_IN_COMPOSE = {
    "temporal_tls": "compose's Temporal speaks plaintext on its private network; TLS: the docs",
    "temporal_tls_cert": "mTLS to a remote cluster or Temporal Cloud (docs/deployment.md)",
    "temporal_tls_key": "mTLS to a remote cluster or Temporal Cloud (docs/deployment.md)",
    "temporal_api_key": "Temporal Cloud API keys (docs/deployment.md)",
    "sandbox_latency_ms": "a benchmark knob that slows the sandbox down; 0 in a deployment",
    "order_process_version": "pinned only during a rolling upgrade (docs/deployment.md)",
    "dev_server_port": "embedded dev server only",
    "dev_server_ui_port": "embedded dev server only",
    "codec_key_file": "the alternative to PEYVAND_CODEC_KEYS, which .env provides",
    "otel_endpoint": "tracing is off until a collector exists (commented in deploy/env.example)",
    "erp_drain_task_queues": "the default keeps polling peyvand-erp, this file's earlier ERP queue",
}

#: ``temporal operator search-attribute create --type`` names of the SDK's indexed value types.
CLI_TYPES = {
    "TEXT": "Text",
    "KEYWORD": "Keyword",
    "INT": "Int",
    "DOUBLE": "Double",
    "BOOL": "Bool",
    "DATETIME": "Datetime",
    "KEYWORD_LIST": "KeywordList",
}

SECRET = re.compile(r"(PASSWORD|PWD|SECRET|CODEC_KEYS|API_KEY|TOKEN)$")
LOOPBACK = "127.0.0.1"
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


# --- loading --------------------------------------------------------------------------------


def read_env_file(path: Path, *, commented: bool = False) -> dict[str, str]:
    """``KEY=value`` lines of an env file; with ``commented``, the ``# KEY=value`` ones too."""
    pairs: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if commented and re.match(r"#\s*[A-Z][A-Z0-9_]*=", line):
            line = line.lstrip("#").strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=value: {raw!r}"
        pairs[key.strip()] = value.strip()
    return pairs


def resolve(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``${X:-default}`` gives the default, ``${X}`` and ``${X:?}`` need
    X in the env file (a placeholder stands for the secret). ``$$`` is a literal ``$``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if op in ("-", ":-"):
            return env.get(name) or arg
        assert name in env, f"${{{name}}} is used but deploy/env.example does not list it"
        return env[name] or f"placeholder{name.lower().replace('_', '')}"

    return INTERPOLATION.sub(one, value).replace("$$", "$")


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment:`` as a mapping (either syntax), values as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def env_files_of(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file") or []
    files = [files] if isinstance(files, str | dict) else files
    return [f["path"] if isinstance(f, dict) else f for f in files]


def container_env(service: dict[str, Any], env_example: dict[str, str]) -> dict[str, str]:
    """What a peyvand container sees: the env file (stood in for by env.example), overridden by
    ``environment:`` (compose's precedence), interpolation resolved."""
    seen = dict(env_example) if ".env" in env_files_of(service) else {}
    seen.update({k: resolve(v, env_example) for k, v in environment_of(service).items()})
    return seen


def settings_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a container with this environment reads (and nothing else)."""
    for key in list(os.environ):
        if key.startswith("PEYVAND_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(read_env_file=None)


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port, in either syntax."""
    out: list[tuple[str, int, int]] = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append((str(port.get("host_ip", "")), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        assert len(parts) == 3, f"{port!r}: give the host ip, e.g. 127.0.0.1:8000:8000"
        out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def depends_on_of(service: dict[str, Any]) -> dict[str, Any]:
    deps = service.get("depends_on") or {}
    assert isinstance(deps, dict), "depends_on needs the long syntax, with a condition per service"
    return deps
