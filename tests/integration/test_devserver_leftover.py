"""The embedded dev server left behind by a run killed with SIGKILL is stopped by the next run on
the same history file; one whose run still lives is never touched, nor a program that has since
taken the recorded pid."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from infra.devserver import DevServer, free_port, port_open
from infra.startup import StartupError
from workflows import search_attributes

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]

# A run of its own: starts the server, says so, then waits to be killed.
OWNER = """
import asyncio, sys
from pathlib import Path
from infra.devserver import DevServer
from workflows import search_attributes

async def main(db, port, ui):
    server = DevServer(db_file=Path(db), port=int(port), ui_port=int(ui),
                       search_attributes=search_attributes.ALL, log_file=Path(db + ".log"))
    async with server:
        print("SERVER", server.pid, flush=True)
        await asyncio.sleep(3600)

asyncio.run(main(*sys.argv[1:]))
"""


def _gone(pid: int) -> bool:
    """Stopped: no such process, or one its new parent has not reaped yet."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _server(db: Path, port: int, ui: int) -> DevServer:
    return DevServer(
        db_file=db,
        port=port,
        ui_port=ui,
        search_attributes=search_attributes.ALL,
        log_file=db.with_suffix(".log"),
    )


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, int, DevServer]]:
    """A separate run holding a dev server on ``tmp_path/temporal.sqlite``: (run, its server's
    pid, a second DevServer on the same file and ports)."""
    db, port, ui = tmp_path / "temporal.sqlite", free_port(), free_port()
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OWNER, str(db), str(port), str(ui),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert run.stdout is not None
        line = b""
        while not line.startswith(b"SERVER "):  # after the log lines
            line = await asyncio.wait_for(run.stdout.readline(), 60)
            assert line, "the run ended before its server started"
        yield run, int(line.split()[1]), _server(db, port, ui)
    finally:
        if run.returncode is None:
            run.kill()
            await run.wait()
        for proc in psutil.process_iter(["cmdline"]):  # never leave a server behind
            if str(db) in (proc.info["cmdline"] or []):
                proc.kill()


async def test_a_server_left_by_a_killed_run_is_stopped_by_the_next(
    owner: tuple[asyncio.subprocess.Process, int, DevServer],
) -> None:
    run, old_pid, again = owner
    run.send_signal(signal.SIGKILL)
    await run.wait()
    # Left behind: its own process group kept it alive, holding the port.
    assert psutil.pid_exists(old_pid)
    assert port_open("127.0.0.1", again.port)

    async with again:
        assert _gone(old_pid)
        assert again.pid != old_pid
        assert port_open("127.0.0.1", again.port)
        assert again.pid_file is not None and again.pid_file.exists()
    assert again.pid_file is not None and not again.pid_file.exists()


async def test_a_server_whose_run_lives_is_left_alone(
    owner: tuple[asyncio.subprocess.Process, int, DevServer],
) -> None:
    _, old_pid, again = owner
    with pytest.raises(StartupError, match="another peyvand run uses .*temporal.sqlite"):
        async with again:
            pass
    assert psutil.Process(old_pid).status() != psutil.STATUS_ZOMBIE
    assert port_open("127.0.0.1", again.port)
    assert again.pid_file is not None and again.pid_file.exists()  # still the live run's


async def test_a_recorded_pid_now_of_another_program_is_not_touched(tmp_path: Path) -> None:
    db = tmp_path / "temporal.sqlite"
    server = _server(db, free_port(), free_port())
    other = await asyncio.create_subprocess_exec("sleep", "60")
    try:
        assert server.pid_file is not None
        # Its pid, but not the start time recorded for the server that had it.
        server.pid_file.write_text(json.dumps({"server": other.pid, "started": 1.0}))
        async with server:
            assert port_open("127.0.0.1", server.port)
        assert other.returncode is None and psutil.pid_exists(other.pid)
    finally:
        other.kill()
        await other.wait()


@pytest.mark.parametrize("record", ["{half", '{"server": -1, "started": 0}', "[]"])
async def test_a_broken_pid_file_does_not_stop_a_start(tmp_path: Path, record: str) -> None:
    server = _server(tmp_path / "temporal.sqlite", free_port(), free_port())
    assert server.pid_file is not None
    server.pid_file.write_text(record)
    async with server:
        assert json.loads(server.pid_file.read_text())["server"] == server.pid
    assert not server.pid_file.exists()
