"""The real API as its own process (``pdrec serve``) on a free 127.0.0.1 port.

For tests that need what an in-process client cannot give: several clients writing at once
through the server's own connection pool, and a ``kill -9`` in the middle of a write. The store
is SQLite in a temporary data directory, or a fresh PostgreSQL database (:func:`store_url`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recommender.store import open_store, sqlite_url
from tests.pg import free_port, fresh_database

__all__ = ["ServerProcess", "store_url"]

START_TIMEOUT = 120.0  # seconds: imports and migrations on a loaded two-core machine (60 s was
# exceeded at a load average of 8, several suites running at once)


def store_url(kind: str, data_dir: Path) -> str:
    """A new, empty store of ``kind`` (``sqlite`` or ``postgresql``); skips without a server."""
    if kind == "sqlite":
        return sqlite_url(data_dir)
    url, reason = fresh_database()
    if url is None:
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return url


class ServerProcess:
    """``pdrec serve`` in a subprocess: :meth:`start`, :meth:`kill` (SIGKILL), :meth:`stop`.

    The server runs with the graph rule (no model) and logs to ``data_dir/server-<n>.log``.
    Keys are created through the store before the first start (:meth:`create_key`).
    """

    def __init__(self, data_dir: Path, url: str, **env: str):
        self.data_dir = Path(data_dir)
        self.url = url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATABASE_URL": url, "PDREC_LOAD_MODEL": "false", **env}
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def create_key(self, tenant: str, role: str = "platform") -> str:
        store = open_store(self.url, pool_size=1)
        try:
            secret, _ = store.create_key(tenant, role)
        finally:
            store.dispose()
        return secret

    def start(self) -> None:
        """Start the server and wait until ``/readyz`` answers 200."""
        self.starts += 1
        log = open(self.data_dir / f"server-{self.starts}.log", "wb")  # noqa: SIM115 - child's
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(self.data_dir),
             "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pdrec serve exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                if httpx.get(self.base + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"pdrec serve not ready after {START_TIMEOUT} s: {self.log_tail()}")

    def kill(self) -> None:
        """``kill -9`` the server: no shutdown, no flush, in-flight requests cut."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it does not exit in time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 2000) -> str:
        """The end of the latest server log (for failure messages)."""
        path = self.data_dir / f"server-{self.starts}.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""
