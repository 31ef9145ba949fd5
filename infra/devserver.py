"""The embedded Temporal dev server: ``temporal server start-dev`` with the Web UI and a SQLite
history file, so workflows survive a restart of the whole stack."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
import structlog
from temporalio.common import SearchAttributeKey

from infra.binaries import temporal_cli
from infra.startup import StartupError

log = structlog.stdlib.get_logger(__name__)


_KINDS = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DOUBLE": "Double",
    "INT": "Int",
    "TEXT": "Text",
    "BOOL": "Bool",
}


def search_attribute_flags(keys: Sequence[SearchAttributeKey[Any]]) -> list[str]:
    """``--search-attribute Name=Type`` flags registering ``keys`` on the dev server."""
    flags: list[str] = []
    for key in keys:
        flags += ["--search-attribute", f"{key.name}={_KINDS[key.indexed_value_type.name]}"]
    return flags


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers of benchmarks and tests)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DevServer:
    """Runs ``temporal server start-dev`` as a child process for as long as the context lasts.

    Args:
        db_file: SQLite file holding the history; None keeps it in memory only.
        port: gRPC port of the frontend.
        ui_port: Port of the Web UI.
        search_attributes: Keys to register.
        log_file: Where the server's output goes.
        codec_endpoint: A codec server the Web UI decrypts payloads with.
    """

    def __init__(
        self,
        *,
        db_file: Path | None,
        port: int,
        ui_port: int,
        search_attributes: Sequence[SearchAttributeKey[Any]],
        log_file: Path,
        codec_endpoint: str | None = None,
    ) -> None:
        self.db_file, self.port, self.ui_port = db_file, port, ui_port
        self._keys = search_attributes
        self._log_file = log_file
        self._codec = ["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None  # fd of the history file's lock while this run has it

    @property
    def pid(self) -> int:
        """The server process's id (once started)."""
        if self._proc is None:
            raise RuntimeError("the dev server is not running")
        return self._proc.pid

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.ui_port}"

    @property
    def pid_file(self) -> Path | None:
        """The server this run started on ``db_file``: lets a later run stop one left behind."""
        return None if self.db_file is None else self.db_file.with_name(self.db_file.name + ".pid")

    def _claim(self) -> None:
        """Take the history file for this run, and stop a server an earlier run left behind.

        The dev server has a process group of its own, so Ctrl-C reaches us first; but a run
        killed with SIGKILL (or by the OOM killer) leaves it holding the ports and the file.
        A lock on ``<db>.lock`` is held while the run lasts, and the kernel drops it however the
        run ends; the server never inherits it. So a server named in the pid file while the lock
        is free was left behind.

        Raises:
            StartupError: Another run that still lives uses this history file.
        """
        if self.db_file is None:
            return
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        lock = self.db_file.with_name(self.db_file.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StartupError(
                f"another peyvand run uses {self.db_file} and its dev server: stop that one first"
            ) from None
        self._lock = fd
        self._stop_leftover()

    def _stop_leftover(self) -> None:
        path = self.pid_file
        assert path is not None
        try:
            record = json.loads(path.read_text())
            pid, started = int(record["server"]), float(record["started"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # half written when its run died: nothing to go by
            return
        try:
            proc = psutil.Process(pid) if pid > 0 else None
            # The pid may since belong to another program: stop only that very server.
            if proc is not None and abs(proc.create_time() - started) < 1:
                log.warning("stopping the Temporal dev server (pid %d) an earlier run left", pid)
                proc.terminate()
                try:
                    proc.wait(15)
                except psutil.TimeoutExpired:
                    proc.kill()
                    proc.wait(15)
        except psutil.NoSuchProcess:
            pass
        except (psutil.Error, OSError) as err:  # the port check below then says what is wrong
            log.warning("could not stop the dev server an earlier run left (pid %d): %s", pid, err)
        path.unlink(missing_ok=True)

    def _record(self, proc: subprocess.Popen[bytes]) -> None:
        path = self.pid_file
        if path is None:
            return
        try:
            record = {"server": proc.pid, "started": psutil.Process(proc.pid).create_time()}
            partial = path.with_name(path.name + ".partial")
            partial.write_text(json.dumps(record))
            partial.replace(path)  # a reader never sees half a record
        except (OSError, psutil.Error) as err:
            log.warning("could not record the dev server's pid in %s: %s", path, err)

    async def __aenter__(self) -> DevServer:
        await asyncio.to_thread(self._claim)
        try:
            return await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)  # never leave it behind, holding its ports
            raise

    async def _start(self) -> DevServer:
        if port_open("127.0.0.1", self.port):
            raise StartupError(
                f"port {self.port} is taken: another Temporal server runs there. Stop it, or set "
                "PEYVAND_DEV_SERVER_PORT / PEYVAND_DEV_SERVER_UI_PORT"
            )
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        store = []
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            store = ["--db-filename", str(self.db_file)]
        args = [
            temporal_cli(),
            "server",
            "start-dev",
            *store,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--ui-disable-news-fetch",
            *self._codec,
            "--log-level",
            "warn",
            # WAL with normal sync: still durable across a crash of the process, and several
            # times faster per workflow task than the default rollback journal.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            *search_attribute_flags(self._keys),
        ]
        with self._log_file.open("ab") as log_out:
            # A process group of its own: Ctrl-C in the terminal reaches only us, and we stop
            # the workers before the server they talk to (else both stop at once, and the
            # workers' last calls fail).
            self._proc = subprocess.Popen(
                args, stdout=log_out, stderr=subprocess.STDOUT, process_group=0
            )
        self._record(self._proc)
        for _ in range(600):
            if self._proc.poll() is not None:
                raise StartupError(f"temporal dev server exited; see {self._log_file}")
            if port_open("127.0.0.1", self.port):
                break
            await asyncio.sleep(0.1)
        else:
            raise StartupError(f"temporal dev server did not start in 60 s; see {self._log_file}")
        log.info("Temporal dev server on %s, Web UI on %s", self.address, self.ui_url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        lock, self._lock = self._lock, None
        if lock is not None:
            if self.pid_file is not None:
                self.pid_file.unlink(missing_ok=True)  # ours: we hold the lock
            os.close(lock)  # releases it
