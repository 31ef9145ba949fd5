"""The docker compose topology, checked by structure (Docker cannot run on these machines).

``docker-compose.yml`` must keep: every service it needs, images pinned by version, a healthcheck
on every long-running service and start-up ordered by health or completion, ports bound to
127.0.0.1, the search attributes of ``workflows.search_attributes.ALL``, and a Web UI and an
ingress that agree on the codec server. Secrets and settings: ``test_compose_settings.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.unit.compose_file import (
    CLI_TYPES,
    LONG_RUNNING,
    LOOPBACK,
    ONE_SHOT,
    PEYVAND,
    ROOT,
    SECRET,
    SETUP_NAMESPACE,
    container_env,
    depends_on_of,
    environment_of,
    published_ports,
    settings_of,
)
from workflows.search_attributes import ALL

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
        for dep, how in depends_on_of(service).items():
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
        assert needs <= set(depends_on_of(services[name])), f"{name} must wait for {needs}"


def test_published_ports_are_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = {name: published_ports(service) for name, service in services.items()}
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
    env = container_env(worker, env_example)
    assert env["PEYVAND_METRICS_ADDRESS"] == "0.0.0.0:9464"
    assert "9464" in " ".join(worker["healthcheck"]["test"])
    ingress = container_env(services["ingress"], env_example)
    for queue in ("WORKFLOW", "CRM", "ERP"):
        key = f"PEYVAND_{queue}_TASK_QUEUE"
        assert env.get(key) == ingress.get(key), f"{key}: the ingress starts what workers poll"
    assert services["ingress"]["command"] == ["python", "-m", "ingress"]
    assert ingress["PEYVAND_INGRESS_HOST"] == "0.0.0.0"


def test_the_erp_shares_the_workflow_queue_and_the_server_dispatches_eagerly(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    env = container_env(services["worker"], env_example)
    assert env["PEYVAND_ERP_TASK_QUEUE"] == env["PEYVAND_WORKFLOW_TASK_QUEUE"]
    assert env["PEYVAND_CRM_TASK_QUEUE"] != env["PEYVAND_ERP_TASK_QUEUE"]
    assert not any("ERP__MAX" in key and "PER_SECOND" in key for key in env), (
        "a rate on the ERP turns eager execution off"
    )
    # Servers before 1.32 hand activities over eagerly only when their dynamic config says so.
    config = yaml.safe_load((ROOT / "deploy/temporal/dynamicconfig/peyvand.yaml").read_text())
    for key in ("system.enableActivityEagerExecution", "system.enableEagerWorkflowStart"):
        assert config[key] == [{"value": True, "constraints": {}}], key
    temporal = services["temporal"]
    assert any("peyvand.yaml" in str(value) for value in environment_of(temporal).values()), (
        "the server must read that file (DYNAMIC_CONFIG_FILE_PATH)"
    )


# --- Temporal: namespace, search attributes, codec server -----------------------------------


def test_search_attributes_are_those_of_the_code(services: dict[str, dict[str, Any]]) -> None:
    listed = environment_of(services["temporal-setup"])["SEARCH_ATTRIBUTES"].split()
    pairs = [item.partition("=")[::2] for item in listed]
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), "a search attribute is listed twice"
    wanted = {key.name: CLI_TYPES[key.indexed_value_type.name] for key in ALL}
    assert dict(pairs) == wanted


def test_one_namespace_everywhere(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    namespace = environment_of(services["temporal-setup"])["NAMESPACE"]
    assert environment_of(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == namespace
    for name in PEYVAND:
        env = container_env(services[name], env_example)
        assert env["PEYVAND_TEMPORAL_NAMESPACE"] == namespace, name
        assert env["PEYVAND_TEMPORAL_ADDRESS"] == "temporal:7233", name
    assert environment_of(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert environment_of(services["temporal-setup"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_ui_codec_endpoint_and_ingress_cors_agree(
    services: dict[str, dict[str, Any]],
    env_example: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ui = environment_of(services["temporal-ui"])
    ingress = settings_of(container_env(services["ingress"], env_example), monkeypatch)
    # The browser calls the codec server: at the ingress's published port, on this host.
    endpoint = urlsplit(ui["TEMPORAL_CODEC_ENDPOINT"])
    (_, ingress_host_port, ingress_container_port) = published_ports(services["ingress"])[0]
    assert endpoint.hostname in ("localhost", LOOPBACK)
    assert endpoint.port == ingress_host_port and endpoint.path == "/codec"
    assert ingress_container_port == ingress.ingress_port
    # … from the UI's origin, which the ingress must allow, by either name of this host.
    (_, ui_host_port, ui_container_port) = published_ports(services["temporal-ui"])[0]
    assert int(ui.get("TEMPORAL_UI_PORT", "8080")) == ui_container_port
    origins = {f"http://{host}:{ui_host_port}" for host in ("localhost", LOOPBACK)}
    assert origins <= set(ingress.codec_origins)
    assert set(ui["TEMPORAL_CORS_ORIGINS"].split(",")) <= set(ingress.codec_origins)


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
        **environment_of(services["temporal-setup"]),
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
