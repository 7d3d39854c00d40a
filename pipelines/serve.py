"""``pdrec serve`` and ``pdrec keys``: the logic behind those CLI commands.

The store URL is ``DATABASE_URL`` when set, else the SQLite file ``DATA_DIR/pdrec.db``: the CLI
and the API always agree on where keys and evidence live.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from recommender.store import Store, open_store, sqlite_url

__all__ = ["APP_FACTORY", "database_url", "project_store", "serve"]

APP_FACTORY = "pipelines.app:create_app"
"""What uvicorn runs (factory mode, imported by each worker)."""


def database_url(data_dir: Path) -> str:
    """``DATABASE_URL`` if set, else the embedded SQLite store of the data directory."""
    return os.environ.get("DATABASE_URL") or sqlite_url(data_dir)


@contextlib.contextmanager
def project_store(data_dir: Path) -> Iterator[Store]:
    """The project's store, migrated to the current schema, closed on exit.

    >>> with project_store(Path("data")) as store:          # doctest: +SKIP
    ...     secret, record = store.create_key("district-7", "platform")
    """
    store = open_store(database_url(data_dir), pool_size=2)
    try:
        yield store
    finally:
        store.dispose()


class _TcpConfig(uvicorn.Config):
    """uvicorn's config with a listening socket that says it is TCP.

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


MAX_REQUEST_HEAD_BYTES = 1 << 20
"""The longest request line and headers uvicorn accepts (its own default is 16 KiB): a query the
API documents as valid, such as ``available`` with 1,000 activity ids of up to 128 characters,
percent-encoded, must reach the app and get its answer, not a 400 from the HTTP parser."""


def serve(data_dir: Path, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "info") -> None:
    """Migrate the store once, then run the API with uvicorn (:func:`pipelines.app.create_app`:
    the app with the champion's loader).

    With several workers, Prometheus multiprocess mode is switched on
    (``PROMETHEUS_MULTIPROC_DIR`` under the data directory, emptied first) unless the variable
    is already set, so ``/metrics`` aggregates every worker.
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
                        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES)
    with contextlib.suppress(KeyboardInterrupt):  # what uvicorn.run does, socket fixed
        Multiprocess(config, sockets=[config.bind_socket()]).run()
