"""``pdrec serve`` and ``pdrec keys``: the logic behind those CLI commands.

The store URL is ``DATABASE_URL`` when set, else the SQLite file ``DATA_DIR/pdrec.db``: the CLI
and the API always agree on where keys and evidence live.

Starting workers on a loaded machine: uvicorn's supervisor pings each worker every 0.5 s and
kills one that does not answer within ``timeout_worker_healthcheck`` (5 s by default), and a
spawned worker answers only once it has re-imported the parent's main module (``pipelines.cli``:
pandas, numpy) and unpickled its config and listener (this module). On the shared two-core machine
that took over 5 s, and workers were killed and replaced in a loop, each attempt burning a core
the surviving worker needed. Hence :data:`WORKER_HEALTHCHECK_SECONDS`, and this module imports
only the standard library and uvicorn at load time (the store where it is used).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import STARTUP_FAILURE

if TYPE_CHECKING:
    from recommender.store import Store

__all__ = ["APP_FACTORY", "WorkerListener", "database_url", "project_store",
           "reuse_port_socket", "reuse_port_unavailable", "serve", "worker_sockets"]

APP_FACTORY = "pipelines.app:create_app"
"""What uvicorn runs (factory mode, imported by each worker)."""


def database_url(data_dir: Path) -> str:
    """``DATABASE_URL`` if set, else the embedded SQLite store of the data directory."""
    from recommender.store import sqlite_url

    return os.environ.get("DATABASE_URL") or sqlite_url(data_dir)


@contextlib.contextmanager
def project_store(data_dir: Path) -> Iterator[Store]:
    """The project's store, migrated to the current schema, closed on exit.

    >>> with project_store(Path("data")) as store:          # doctest: +SKIP
    ...     secret, record = store.create_key("district-7", "platform")
    """
    from recommender.store import open_store

    store = open_store(database_url(data_dir), pool_size=2)
    try:
        yield store
    finally:
        store.dispose()


class _TcpConfig(uvicorn.Config):
    """uvicorn's config with a listening socket that says it is TCP (the shared-socket mode).

    With ``--workers N`` uvicorn binds the socket itself with ``proto`` left at 0; accepted
    connections inherit it and asyncio only switches Nagle's algorithm off (``TCP_NODELAY``) for
    ``proto == IPPROTO_TCP``. Every keep-alive response (headers and body are two writes) then
    waits for the client's delayed ACK: about 40 ms per request on Linux, whatever the app does
    (uvicorn issue #3149, open for 0.54). Re-wrapping the same descriptor with the protocol set
    fixes it; a single worker is unaffected (asyncio builds that listener itself).
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
            sock.set_inheritable(True)
        return sock


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT``, not yet listening.

    Created with ``proto=IPPROTO_TCP``, so asyncio sets ``TCP_NODELAY`` on every connection it
    accepts (the delayed-ACK stall of uvicorn issue #3149 cannot come back). Raises
    ``AttributeError`` or ``OSError`` when the platform has no ``SO_REUSEPORT``, and ``OSError``
    when the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_in_worker(host: str, port: int) -> socket.socket:
    """The worker's own listener (run in the worker, see :class:`WorkerListener`); a failed bind
    ends the worker with uvicorn's ``STARTUP_FAILURE``, so the supervisor stops instead of
    replacing it forever."""
    try:
        return reuse_port_socket(host, port)
    except OSError as exc:
        logging.getLogger("uvicorn.error").error("worker [%d] cannot bind %s:%d: %s",
                                                 os.getpid(), host, port, exc)
        sys.exit(STARTUP_FAILURE)


class WorkerListener:
    """What ``pdrec serve --workers N`` hands uvicorn's supervisor in place of a socket: each
    worker process binds its own ``SO_REUSEPORT`` listener to the same address.

    With one shared listening socket, the worker that wakes first takes up to ``backlog``
    pending connections at once, so a burst of new connections (a load balancer's pool, wrk's 32)
    mostly lands on one worker while the other cores idle. With one listener per worker, the
    kernel spreads new connections over them by a hash of the connection's addresses.

    uvicorn's supervisor (``uvicorn.supervisors.Multiprocess``, spawn start method) pickles its
    ``sockets`` argument into every worker it starts: at the start, when it replaces a dead
    worker, on ``SIGHUP`` and on ``SIGTTIN``. This object pickles as "bind a new socket", so every
    one of those workers gets its own listener, without copying the supervisor. The parent holds
    no listening socket (a listener nobody accepts on would receive its share of connections and
    leave them waiting). Connections still queued in a worker that dies are reset, as with any
    ``SO_REUSEPORT`` server.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self):
        return _bind_in_worker, (self.host, self.port)

    def __repr__(self) -> str:
        return f"WorkerListener({self.host!r}, {self.port})"


def reuse_port_unavailable() -> str | None:
    """Why this platform cannot give each worker its own listener (``SO_REUSEPORT``), or None."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return "socket.SO_REUSEPORT is not defined on this platform"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        except OSError as exc:
            return f"setting SO_REUSEPORT failed: {exc}"
    return None


def worker_sockets(config: _TcpConfig, *, reuse_port: bool = True
                   ) -> tuple[list, socket.socket | None]:
    """The ``sockets`` argument for uvicorn's supervisor, and the socket the parent keeps.

    With ``reuse_port`` and a platform that has ``SO_REUSEPORT``: one :class:`WorkerListener`,
    and a bound, never listening socket that holds the port for the server's life (it receives no
    connections; binding it first makes a taken port fail here, once, and resolves port 0).
    Otherwise the shared listener of :class:`_TcpConfig` (``TCP_NODELAY`` fixed); when
    ``SO_REUSEPORT`` was asked for but is unavailable, the log says so and why.
    """
    log = logging.getLogger("uvicorn.error")
    why = reuse_port_unavailable() if reuse_port else "--shared-socket"
    if why is None:
        try:
            held = reuse_port_socket(config.host, config.port)
        except OSError as exc:  # what uvicorn's own bind does
            log.error(exc)
            sys.exit(STARTUP_FAILURE)
        port = held.getsockname()[1]
        log.info("Uvicorn running on http://%s:%d with one listening socket per worker "
                 "(SO_REUSEPORT: the kernel spreads new connections over the %d workers)",
                 config.host, port, config.workers)
        return [WorkerListener(config.host, port)], held
    if reuse_port:
        log.warning("SO_REUSEPORT unavailable (%s): the %d workers share one listening socket, "
                    "so new connections may gather on one worker", why, config.workers)
    else:
        log.info("the %d workers share one listening socket (--shared-socket)", config.workers)
    return [config.bind_socket()], None


WORKER_HEALTHCHECK_SECONDS = 30
"""How long uvicorn's supervisor waits for a worker's answer before it kills it as hung (uvicorn's
default is 5 s, less than a worker's start takes on a busy two-core machine; see above)."""

MAX_REQUEST_HEAD_BYTES = 1 << 20
"""The longest request line and headers uvicorn accepts (its own default is 16 KiB): a query the
API documents as valid, such as ``available`` with 1,000 activity ids of up to 128 characters,
percent-encoded, must reach the app and get its answer, not a 400 from the HTTP parser."""


def serve(data_dir: Path, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "info", reuse_port: bool = True) -> None:
    """Migrate the store once, then run the API with uvicorn (:func:`pipelines.app.create_app`:
    the app with the champion's loader).

    With several workers, Prometheus multiprocess mode is switched on
    (``PROMETHEUS_MULTIPROC_DIR`` under the data directory, emptied first) unless the variable
    is already set, so ``/metrics`` aggregates every worker; each worker listens on its own
    ``SO_REUSEPORT`` socket (:class:`WorkerListener`) unless ``reuse_port`` is false or the
    platform lacks it, then they share one (:func:`worker_sockets`).
    """
    from uvicorn.supervisors import Multiprocess

    data_dir = Path(data_dir).resolve()
    os.environ["PDREC_DATA_DIR"] = str(data_dir)
    with project_store(data_dir):  # migrations run once, before the workers start
        pass
    os.environ["PDREC_RUN_MIGRATIONS"] = "false"
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = data_dir / "prometheus-multiproc"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    if workers == 1:
        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level=log_level,
                    access_log=False, h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)
        return
    config = _TcpConfig(APP_FACTORY, factory=True, host=host, port=port, workers=workers,
                        log_level=log_level, access_log=False,
                        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
                        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)
    sockets, held = worker_sockets(config, reuse_port=reuse_port)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # what uvicorn.run does
            Multiprocess(config, sockets=sockets).run()
    finally:
        for sock in (held, *sockets):
            if isinstance(sock, socket.socket):
                sock.close()
