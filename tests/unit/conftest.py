"""Fixtures of the unit tests: the compose file and its env example, loaded once a module."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.compose_file import COMPOSE, ENV_EXAMPLE, read_env_file


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
    return read_env_file(ENV_EXAMPLE)
