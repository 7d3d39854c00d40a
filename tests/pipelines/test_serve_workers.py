"""``pdrec serve --workers N``: each worker listens on its own ``SO_REUSEPORT`` socket, so a burst
of new connections reaches every worker (one shared socket let the first worker to wake take
them all); accepted connections have ``TCP_NODELAY`` (uvicorn issue #3149); a replaced worker
gets a socket of its own; where ``SO_REUSEPORT`` is missing the log says so and the workers share
one socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from pipelines.serve import (
    APP_FACTORY,
    WorkerListener,
    _TcpConfig,
    reuse_port_socket,
    reuse_port_unavailable,
    worker_sockets,
)

pytestmark = pytest.mark.skipif(reuse_port_unavailable() is not None,
                                reason=f"no SO_REUSEPORT here: {reuse_port_unavailable()}")


def _config(port: int = 0) -> _TcpConfig:
    return _TcpConfig(APP_FACTORY, factory=True, host="127.0.0.1", port=port, workers=2,
                      log_config=None)


def _accepted_nodelay(listener: socket.socket) -> int:
    """``TCP_NODELAY`` of a connection asyncio accepted on ``listener`` (as uvicorn's worker)."""
    async def main() -> int:
        accepted: asyncio.Future = asyncio.get_running_loop().create_future()

        class Proto(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Proto, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            return await asyncio.wait_for(accepted, 10)
        finally:
            writer.close()
            server.close()

    return asyncio.run(main())


def test_a_worker_listener_unpickles_as_its_own_reuse_port_tcp_socket():
    held = reuse_port_socket("127.0.0.1", 0)  # what the parent keeps: bound, never listening
    port = held.getsockname()[1]
    listener = WorkerListener("127.0.0.1", port)
    first, second = pickle.loads(pickle.dumps(listener)), pickle.loads(pickle.dumps(listener))
    try:
        for sock in (first, second):
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.proto == socket.IPPROTO_TCP
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert first.fileno() != second.fileno()
        assert _accepted_nodelay(first) == 1  # issue #3149 cannot come back
    finally:
        for sock in (held, first, second):
            sock.close()


def test_worker_sockets_hold_the_port_and_hand_out_listeners(caplog):
    sockets, held = worker_sockets(_config())
    try:
        assert [type(s) for s in sockets] == [WorkerListener]
        assert sockets[0].port == held.getsockname()[1] != 0  # port 0 resolved once
    finally:
        held.close()


def test_without_so_reuseport_the_workers_share_one_socket_and_the_log_says_so(monkeypatch):
    monkeypatch.delattr(socket, "SO_REUSEPORT")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("uvicorn.error").addHandler(handler)
    try:
        sockets, held = worker_sockets(_config())
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    try:
        assert held is None and isinstance(sockets[0], socket.socket)
        assert sockets[0].proto == socket.IPPROTO_TCP  # the shared socket keeps the #3149 fix
        assert _accepted_nodelay(sockets[0]) == 1
        warning = [r.getMessage() for r in records if r.levelno == logging.WARNING]
        assert warning and "SO_REUSEPORT unavailable" in warning[0], warning
        assert "share one listening socket" in warning[0]
    finally:
        sockets[0].close()


def test_a_taken_port_stops_the_start_with_uvicorns_startup_failure():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SystemExit) as stop:
            worker_sockets(_config(taken.getsockname()[1]))
    assert stop.value.code == 3  # uvicorn's STARTUP_FAILURE: the supervisor does not retry


def test_importing_the_serve_module_stays_light():
    """Each worker unpickles this module's config and listener before it can answer its
    supervisor's health check: the store (pandas, SQLAlchemy) is imported later."""
    code = ("import sys, pipelines.serve; "
            "print(sorted(m for m in ('pandas', 'sqlalchemy', 'recommender') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- end to end: the real command, two workers ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listeners(server: psutil.Process, port: int) -> set[int]:
    """Pids, among the server and its descendants, with a socket listening on ``port``."""
    pids = set()
    for proc in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                   for c in proc.net_connections("tcp")):
                pids.add(proc.pid)
    return pids


def _wait_for_listeners(server: psutil.Process, port: int, n: int, log: Path, *,
                        gone: int | None = None, timeout: float = 180) -> set[int]:
    """The ``n`` listening pids, once there are ``n`` and ``gone`` (a killed worker) is not one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _listeners(server, port)
        if len(pids) == n and gone not in pids:
            return pids
        assert server.is_running(), log.read_text()
        time.sleep(0.3)
    raise AssertionError(f"not {n} listeners on {port} after {timeout} s:\n{log.read_text()}")


def _burst(port: int, n: int) -> tuple[list[socket.socket], list[bytes]]:
    """Open ``n`` keep-alive connections at once, then ask ``/healthz`` on each; the status
    lines, and the connections (still open, so the caller can see where they landed)."""
    conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
    for c in conns:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    return conns, [c.recv(65536).split(b"\r\n", 1)[0] for c in conns]


def _by_pid(pids: set[int], port: int) -> dict[int, int]:
    counts = {}
    for pid in pids:
        counts[pid] = sum(1 for c in psutil.Process(pid).net_connections("tcp")
                          if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
    return counts


@pytest.mark.slow
def test_a_burst_of_connections_reaches_both_workers_also_after_one_is_replaced(tmp_path):
    port, log = _free_port(), tmp_path / "serve.log"
    env = {**os.environ, "PDREC_LOAD_MODEL": "false"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(tmp_path / "data"),
             "--port", str(port), "--workers", "2"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        server = psutil.Process(proc.pid)
        workers = _wait_for_listeners(server, port, 2, log)
        assert proc.pid not in workers  # the parent holds the port but never listens
        assert "one listening socket per worker" in log.read_text()
        conns, status = _burst(port, 32)  # 2 x 2**-32: the chance all land on one worker
        assert status == [b"HTTP/1.1 200 OK"] * 32
        counts = _by_pid(workers, port)
        assert sum(counts.values()) == 32 and min(counts.values()) >= 1, counts
        for c in conns:
            c.close()

        dead = min(workers)
        os.kill(dead, signal.SIGKILL)  # the supervisor replaces it; the new one binds its own
        replaced = _wait_for_listeners(server, port, 2, log, gone=dead)
        assert len(replaced & workers) == 1
        conns, status = _burst(port, 32)
        assert status == [b"HTTP/1.1 200 OK"] * 32
        counts = _by_pid(replaced, port)
        assert min(counts.values()) >= 1, counts
        for c in conns:
            c.close()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
