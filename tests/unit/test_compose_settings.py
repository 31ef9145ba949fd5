"""docker-compose.yml's secrets and settings: secrets only from the uncommitted ``.env``, and
every setting the code reads either provided to the peyvand containers or named in
``NOT_IN_COMPOSE`` with its reason, so a setting added later fails here until the deployment
says what it does with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.engine import make_url

from infra.codec import KeyRing
from infra.settings import Settings
from tests.unit.compose_file import (
    ENV_EXAMPLE,
    INIT_SQL,
    INTERPOLATION,
    NOT_IN_COMPOSE,
    PEYVAND,
    ROOT,
    SECRET,
    container_env,
    env_files_of,
    environment_of,
    read_env_file,
    settings_of,
)

# --- secrets --------------------------------------------------------------------------------


def test_secrets_come_from_an_uncommitted_env_file(
    services: dict[str, dict[str, Any]], env_example: dict[str, str]
) -> None:
    gitignore = (ROOT / ".gitignore").read_text().split()
    assert ".env" in gitignore or "/.env" in gitignore, ".env must never be committed"
    assert ".env" in (ROOT / ".dockerignore").read_text().split(), "nor copied into an image"
    for name in PEYVAND:
        assert env_files_of(services[name]) == [".env"], f"{name}: env_file .env"
    for name, service in services.items():
        for key, value in environment_of(service).items():
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
        provided |= set(container_env(services[name], env_example))
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
    names = set(read_env_file(ENV_EXAMPLE, commented=True))
    for service in services.values():
        names |= set(environment_of(service))
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
        settings = settings_of(container_env(services[name], env_example), monkeypatch)
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
    ingress = settings_of(container_env(services["ingress"], env_example), monkeypatch)
    mounts = [str(v).split(":")[1] for v in services["ingress"].get("volumes", [])]
    assert str(ingress.api_keys_path.parent) in mounts, "the API keys must outlive the container"
    temporal = environment_of(services["temporal"])
    assert (temporal["DBNAME"], "temporal") in databases
    assert (temporal["VISIBILITY_DBNAME"], "temporal") in databases
    assert temporal["POSTGRES_USER"] == environment_of(services["temporal-schema"])["SQL_USER"]
