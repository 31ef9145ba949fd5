"""Addresses the settings derive for local clients of the ingress."""

from __future__ import annotations

import pytest

from infra.settings import Settings


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://localhost:8000"),  # a wildcard bind is not an address to call
        ("::", "http://localhost:8000"),
        ("::1", "http://[::1]:8000"),
        ("[::1]", "http://[::1]:8000"),
        ("ingress.internal", "http://ingress.internal:8000"),
    ],
)
def test_ingress_base_url(host: str, url: str) -> None:
    assert Settings(_env_file=None, ingress_host=host).ingress_base_url == url  # type: ignore[call-arg]
