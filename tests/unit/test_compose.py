"""The docker compose topology, checked by structure (Docker cannot run on these machines).

``docker-compose.yml`` must keep: every service it needs, images pinned by version, a healthcheck
on every long-running service and start-up ordered by health or completion, ports bound to
127.0.0.1, secrets only from the uncommitted ``.env``, the search attributes of
``workflows.search_attributes.ALL``, a Web UI and an ingress that agree on the codec server, and
every setting the code reads, either provided to the peyvand containers or named in
``NOT_IN_COMPOSE`` below with the reason. A setting added to ``infra/settings.py`` later fails
here until one of the two says what the deployment does with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from infra.codec import KeyRing
from infra.settings import Settings
from workflows.search_attributes import ALL

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
    "dev_server_port": "embedded dev server only",
    "dev_server_ui_port": "embedded dev server only",
    "codec_key_file": "the alternative to PEYVAND_CODEC_KEYS, which .env provides",
    "otel_endpoint": "tracing is off until a collector exists (commented in deploy/env.example)",
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


def _env_file(path: Path, *, commented: bool = False) -> dict[str, str]:
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


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return _env_file(ENV_EXAMPLE)


def _resolve(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``${X:-default}`` gives the default, ``${X}`` and ``${X:?}`` need
    X in the env file (a placeholder stands for the secret). ``$$`` is a literal ``$``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if op in ("-", ":-"):
            return env.get(name) or arg
        assert name in env, f"${{{name}}} is used but deploy/env.example does not list it"
        return env[name] or f"placeholder{name.lower().replace('_', '')}"

    return INTERPOLATION.sub(one, value).replace("$$", "$")


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment:`` as a mapping (either syntax), values as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _env_files(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file") or []
    files = [files] if isinstance(files, str | dict) else files
    return [f["path"] if isinstance(f, dict) else f for f in files]


def _container_env(service: dict[str, Any], env_example: dict[str, str]) -> dict[str, str]:
    """What a peyvand container sees: the env file (stood in for by env.example), overridden by
    ``environment:`` (compose's precedence), interpolation resolved."""
    seen = dict(env_example) if ".env" in _env_files(service) else {}
    seen.update({k: _resolve(v, env_example) for k, v in _environment(service).items()})
    return seen


def _settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a container with this environment reads (and nothing else)."""
    for key in list(os.environ):
        if key.startswith("PEYVAND_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
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


def _depends_on(service: dict[str, Any]) -> dict[str, Any]:
    deps = service.get("depends_on") or {}
    assert isinstance(deps, dict), "depends_on needs the long syntax, with a condition per service"
    return deps


# --- services, images, health, order ------------------------------------------------------


def test_every_service_is_there_and_is_long_running_or_one_shot(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == LONG_RUNNING | ONE_SHOT
    for name in ONE_SHOT:
        assert str(services[name].get("restart", "no")) == "no", f"{name} runs once"
    for name in LONG_RUNNING:
        assert services[name].get("restart", "no") in ("unless-stopped", "always"), name


def test_images_are_pinned_by_version(services: dict[str, dict[str, Any]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services.items():
        image = service.get("image")
        assert isinstance(image, str), f"{name}: no image"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image!r} has no tag"
        assert tag != "latest" and re.match(r"^\d+(\.\d+)+([-.][\w.-]+)?$", tag), (
            f"{name}: {image!r} is not pinned to a version"
        )
        if "build" in service:
            assert image == f"peyvand:{version}", f"{name}: tag our image with pyproject's version"
        else:
            assert not repo.startswith("peyvand"), f"{name}: our image needs build:"
    for name in PEYVAND:
        assert services[name]["build"]["context"] == ".", name


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and not check.get("disable"), f"{name}: no healthcheck"
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"
    ingress_check = " ".join(services["ingress"]["healthcheck"]["test"])
    assert "/healthz" in ingress_check, "the ingress's health route is /healthz (ingress/app.py)"


def test_start_up_waits_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dep, how in _depends_on(service).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            want = "service_healthy" if dep in LONG_RUNNING else "service_completed_successfully"
            assert how.get("condition") == want, f"{name} -> {dep}: condition {want}"
    order = {
        "temporal-schema": {"postgresql"},
        "temporal": {"temporal-schema"},
        "temporal-setup": {"temporal"},
        "temporal-ui": {"temporal"},
        "sandbox-setup": {"postgresql"},
        "worker": {"temporal-setup", "sandbox-setup", "postgresql"},
        "ingress": {"temporal-setup", "postgresql"},
    }
    for name, needs in order.items():
        assert needs <= set(_depends_on(services[name])), f"{name} must wait for {needs}"


def test_published_ports_are_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = {name: _published(service) for name, service in services.items()}
    for name, ports in published.items():
        for host_ip, _, _ in ports:
            assert host_ip == LOOPBACK, f"{name}: publish on {LOOPBACK} only"
    assert [p[1:] for p in published["ingress"]] == [(8000, 8000)]
    assert [p[1:] for p in published["temporal-ui"]] == [(8080, 8080)]
    hosts = [p[1] for ports in published.values() for p in ports]
    assert len(hosts) == len(set(hosts)), "two services publish the same host port"


def test_workers_scale_on_one_set_of_task_queues(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    worker = services["worker"]
    assert worker["command"] == ["python", "worker.py", "--roles", "workflows,crm,erp"]
    assert worker["deploy"]["replicas"] >= 2
    assert "container_name" not in worker and not worker.get("ports"), (
        "replicas need no fixed name and no host port, or the second one cannot start"
    )
    env = _container_env(worker, env_example)
    assert env["PEYVAND_METRICS_ADDRESS"] == "0.0.0.0:9464"
    assert "9464" in " ".join(worker["healthcheck"]["test"])
    ingress = _container_env(services["ingress"], env_example)
    for queue in ("WORKFLOW", "CRM", "ERP"):
        key = f"PEYVAND_{queue}_TASK_QUEUE"
        assert env.get(key) == ingress.get(key), f"{key}: the ingress starts what workers poll"
    assert services["ingress"]["command"] == ["python", "-m", "ingress"]
    assert ingress["PEYVAND_INGRESS_HOST"] == "0.0.0.0"


# --- secrets --------------------------------------------------------------------------------


def test_secrets_come_from_an_uncommitted_env_file(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    gitignore = (ROOT / ".gitignore").read_text().split()
    assert ".env" in gitignore or "/.env" in gitignore, ".env must never be committed"
    assert ".env" in (ROOT / ".dockerignore").read_text().split(), "nor copied into an image"
    for name in PEYVAND:
        assert _env_files(services[name]) == [".env"], f"{name}: env_file .env"
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from .env"
            # A URL with a password: the password from .env.
            for password in re.findall(r"://[^:/@]+:([^@]+)@", value):
                assert INTERPOLATION.fullmatch(password), f"{name}: {key} has a literal password"
    secrets = [key for key in env_example if SECRET.search(key)]
    assert {
        "POSTGRES_PASSWORD",
        "TEMPORAL_DB_PASSWORD",
        "APP_DB_PASSWORD",
        "PEYVAND_CODEC_KEYS",
        "PEYVAND_INGRESS_CRM_SECRET",
        "PEYVAND_INGRESS_ERP_SECRET",
    } <= set(secrets)
    for key in secrets:
        assert env_example[key] == "", f"deploy/env.example: {key} must be left for the operator"


def test_the_documented_codec_key_command_makes_a_valid_key(env_example: dict[str, str]) -> None:
    text = ENV_EXAMPLE.read_text()
    command = re.search(r'python3 -c "([^"]*token_bytes\(32\)[^"]*)"', text)
    assert command, "deploy/env.example: say how to generate PEYVAND_CODEC_KEYS"
    made = subprocess.run(
        [sys.executable, "-c", command[1]], check=True, capture_output=True, text=True
    ).stdout.strip()
    ring = KeyRing.parse(made, env_example["PEYVAND_CODEC_ACTIVE_KEY"])
    assert ring.active == env_example["PEYVAND_CODEC_ACTIVE_KEY"]


# --- Temporal: namespace, search attributes, codec server -----------------------------------


def test_search_attributes_are_those_of_the_code(services: dict[str, dict[str, Any]]) -> None:
    listed = _environment(services["temporal-setup"])["SEARCH_ATTRIBUTES"].split()
    pairs = [item.partition("=")[::2] for item in listed]
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), "a search attribute is listed twice"
    wanted = {key.name: CLI_TYPES[key.indexed_value_type.name] for key in ALL}
    assert dict(pairs) == wanted


def test_one_namespace_everywhere(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    namespace = _environment(services["temporal-setup"])["NAMESPACE"]
    assert _environment(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == namespace
    for name in PEYVAND:
        env = _container_env(services[name], env_example)
        assert env["PEYVAND_TEMPORAL_NAMESPACE"] == namespace, name
        assert env["PEYVAND_TEMPORAL_ADDRESS"] == "temporal:7233", name
    assert _environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert _environment(services["temporal-setup"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_ui_codec_endpoint_and_ingress_cors_agree(
    services: dict[str, dict[str, Any]],
    env_example: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ui = _environment(services["temporal-ui"])
    ingress = _settings(_container_env(services["ingress"], env_example), monkeypatch)
    # The browser calls the codec server: at the ingress's published port, on this host.
    endpoint = urlsplit(ui["TEMPORAL_CODEC_ENDPOINT"])
    (_, ingress_host_port, ingress_container_port) = _published(services["ingress"])[0]
    assert endpoint.hostname in ("localhost", LOOPBACK)
    assert endpoint.port == ingress_host_port and endpoint.path == "/codec"
    assert ingress_container_port == ingress.ingress_port
    # … from the UI's origin, which the ingress must allow, by either name of this host.
    (_, ui_host_port, ui_container_port) = _published(services["temporal-ui"])[0]
    assert int(ui.get("TEMPORAL_UI_PORT", "8080")) == ui_container_port
    origins = {f"http://{host}:{ui_host_port}" for host in ("localhost", LOOPBACK)}
    assert origins <= set(ingress.codec_origins)
    assert set(ui["TEMPORAL_CORS_ORIGINS"].split(",")) <= set(ingress.codec_origins)


# --- settings: every one provided or explained ----------------------------------------------


def _nested(field: str) -> type[BaseModel] | None:
    annotation = Settings.model_fields[field].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def test_every_setting_is_provided_or_explained(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    provided: set[str] = set()
    for name in PEYVAND:
        provided |= set(_container_env(services[name], env_example))
    missing = []
    for field in Settings.model_fields:
        var = f"PEYVAND_{field.upper()}"
        if _nested(field):
            given = any(key.startswith(f"{var}__") for key in provided)
        else:
            given = var in provided
        if given:
            assert field not in NOT_IN_COMPOSE, f"{field} is provided: drop it from NOT_IN_COMPOSE"
        elif field not in NOT_IN_COMPOSE:
            missing.append(var)
    assert not missing, (
        f"settings the compose topology neither provides nor explains: {missing}; set them in "
        "docker-compose.yml (or deploy/env.example), or add them to NOT_IN_COMPOSE with why"
    )
    assert set(NOT_IN_COMPOSE) <= set(Settings.model_fields), "NOT_IN_COMPOSE names a lost field"


def test_no_variable_names_a_setting_that_does_not_exist(
    services: dict[str, dict[str, Any]],
) -> None:
    names = set(_env_file(ENV_EXAMPLE, commented=True))
    for service in services.values():
        names |= set(_environment(service))
    for var in sorted(name for name in names if name.startswith("PEYVAND_")):
        field, _, sub = var.removeprefix("PEYVAND_").lower().partition("__")
        assert field in Settings.model_fields, f"{var}: Settings has no {field!r}"
        nested = _nested(field)
        if sub or nested:
            assert nested and sub in nested.model_fields, f"{var}: no such nested setting"


def test_peyvand_containers_load_their_settings(
    services: dict[str, dict[str, Any]],
    env_example: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    init_sql = INIT_SQL.read_text()
    databases = set(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", init_sql))
    for name in PEYVAND:
        settings = _settings(_container_env(services[name], env_example), monkeypatch)
        assert settings.log_format == "json", name
        assert settings.data_dir == Path("/var/lib/peyvand"), name
        urls = {"crm": settings.crm_url, "erp": settings.erp_url}
        if name == "ingress":
            urls = {"ingress": settings.ingress_url}
        for database, url in urls.items():
            parsed = make_url(url)
            assert parsed.drivername == "postgresql+asyncpg", f"{name}: {url}"
            assert (parsed.host, parsed.port) == ("postgresql", 5432), f"{name}: {url}"
            assert (parsed.database, parsed.username) in databases, (
                f"{name}: {url} names a database or owner init-databases.sh does not create"
            )
            assert parsed.database == database
    ingress = _settings(_container_env(services["ingress"], env_example), monkeypatch)
    mounts = [str(v).split(":")[1] for v in services["ingress"].get("volumes", [])]
    assert str(ingress.api_keys_path.parent) in mounts, "the API keys must outlive the container"
    temporal = _environment(services["temporal"])
    assert (temporal["DBNAME"], "temporal") in databases
    assert (temporal["VISIBILITY_DBNAME"], "temporal") in databases
    assert temporal["POSTGRES_USER"] == _environment(services["temporal-schema"])["SQL_USER"]


# --- our image --------------------------------------------------------------------------------


def test_dockerfile_is_pinned_runs_unprivileged_and_holds_no_secret() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim\S*\s*$", dockerfile, re.M), "pin python"
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0"), "run as a user of its own"
    assert "['project']['dependencies']" in dockerfile, "install pyproject's dependencies"
    assert "optional-dependencies" not in dockerfile, "runtime dependencies only, not the dev extra"
    for name in re.findall(r"\b([A-Z][A-Z0-9_]*)=", dockerfile):
        assert not SECRET.search(name), f"no secret in the image: {name}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".env", "data/", ".venv/", ".git"):
        assert path in ignored, f".dockerignore: {path}"


# --- the search attribute script, against a stand-in temporal CLI -----------------------------


def test_setup_namespace_creates_only_missing_attributes(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    fake = tmp_path / "temporal"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        'case "$*" in\n'
        '  *"search-attribute list"*) printf "Name Type\\nOrderId Keyword\\n" ;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    env = {
        **_environment(services["temporal-setup"]),
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run(["sh", str(SETUP_NAMESPACE)], env=env, check=True, capture_output=True)
    created = [
        line.split()
        for line in calls.read_text().splitlines()
        if line.startswith("operator search-attribute create")
    ]
    made = {words[words.index("--name") + 1]: words[words.index("--type") + 1] for words in created}
    wanted = {key.name: CLI_TYPES[key.indexed_value_type.name] for key in ALL}
    del wanted["OrderId"]  # listed already
    assert made == wanted
    assert all(f"--namespace {env['NAMESPACE']}" in " ".join(words) for words in created)
