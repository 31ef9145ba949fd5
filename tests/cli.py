"""Running our command-line programs as a user does: a fresh Python process in the checkout."""

from __future__ import annotations

import asyncio
import sys

from infra.settings import ROOT


async def run_python(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """``python ARGS`` in the checkout with exactly ``env``: (exit code, stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()
