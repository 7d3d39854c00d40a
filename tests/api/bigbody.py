"""Huge request bodies against a served API, and the server's memory while it answers them.

Used by the end-to-end test in ``tests/api/test_limits.py`` and by
``benchmarks/bench_body_limits.py`` (the whole matrix). The server is ``pdrec serve`` with one
worker, in its own process, so its memory is its own: :class:`PeakRss` reads it from
``/proc/<pid>/status``. Bodies are generated lazily, 64 KiB at a time: the client never holds
more than a chunk.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from recommender.store import open_store, sqlite_url
from tests.pg import free_port

__all__ = ["CHUNK", "PeakRss", "served_api", "upload"]

CHUNK = b"x" * 65536


@contextlib.contextmanager
def served_api(data_dir: Path, start_timeout: float = 60.0
               ) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Serve the API (one worker, SQLite in ``data_dir``, graph rule) on a free port.

    Yields ``(base url, server pid, keys)``, with an ``admin`` key of tenant ``acme``.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(sqlite_url(data_dir))
    try:
        keys = {"admin": store.create_key("acme", "admin")[0]}
    finally:
        store.dispose()
    port = free_port()
    log_path = data_dir / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(data_dir),
             "--port", str(port)],
            env={**os.environ, "PDREC_LOAD_MODEL": "false", "DATABASE_URL": ""},
            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"pdrec serve exited with {proc.returncode}: "
                                   f"{log_path.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"pdrec serve not ready after {start_timeout:.0f} s")
            time.sleep(0.1)
        yield base, proc.pid, keys
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def upload(client: httpx.Client, method: str, url: str, size: int, *, chunked: bool,
           headers: dict[str, str] | None = None) -> httpx.Response:
    """Send ``size`` bytes as the body, chunked or with a ``Content-Length``, made lazily."""

    def body() -> Iterator[bytes]:
        for _ in range(size // len(CHUNK)):
            yield CHUNK

    sent = {"content-type": "application/json", **(headers or {})}
    if not chunked:
        sent["content-length"] = str(size // len(CHUNK) * len(CHUNK))
    return client.request(method, url, content=body(), headers=sent)


class PeakRss:
    """A process's peak resident memory since :meth:`reset`, in bytes (Linux ``/proc``).

    :meth:`reset` writes ``5`` to ``/proc/<pid>/clear_refs``, which sets the peak (``VmHWM``)
    back to the current resident size (``VmRSS``); :meth:`growth` is the peak since then minus
    that size.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.base = 0

    def _read(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(field)

    def reset(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.base = self._read("VmRSS")

    def growth(self) -> int:
        return self._read("VmHWM") - self.base
