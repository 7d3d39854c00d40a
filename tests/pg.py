"""A real PostgreSQL server for the store and API tests.

``PDREC_TEST_POSTGRES_URL`` (set by ``.ci/run``) points at a server whose user may create
databases. Without it, a throwaway cluster is started from Debian's binaries
(``/usr/lib/postgresql/*/bin``; as the ``postgres`` user when running as root, since PostgreSQL
refuses to run as root) and stopped at exit. Where neither works, :func:`postgres_server`
returns None with the reason, and the PostgreSQL cases skip showing it.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import sqlalchemy as sa

_state: dict = {}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cluster() -> tuple[str | None, str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    bindir = os.path.dirname(found[-1]) if found else None
    if bindir is None and shutil.which("initdb"):
        bindir = os.path.dirname(shutil.which("initdb"))
    if bindir is None:
        return None, "no PostgreSQL server binaries (initdb) on this machine; install postgresql"
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    folder = tempfile.mkdtemp(prefix="pdrec-pg-")
    if as_root:
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run the server as"
        os.chown(folder, pg.pw_uid, pg.pw_gid)
        runuser = shutil.which("runuser")
        prefix = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-c"]
    data = os.path.join(folder, "data")
    port = free_port()

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [*prefix, *args] if prefix[:1] != ["su"] else [*prefix, " ".join(args)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    done = run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if done.returncode:
        return None, f"initdb failed: {done.stderr.strip()[:300]}"
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    done = run(f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(folder, "log"),
               "-w", "start")
    if done.returncode:
        return None, f"pg_ctl start failed: {done.stderr.strip()[:300]}"

    def stop() -> None:
        run(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", ""


def postgres_server() -> tuple[str | None, str]:
    """``(admin_url, "")`` of a reachable server, or ``(None, reason)``; started once."""
    if "result" not in _state:
        url = os.environ.get("PDREC_TEST_POSTGRES_URL")
        reason = ""
        if not url:
            url, reason = _start_cluster()
        if url:
            try:
                engine = sa.create_engine(_driver(url))
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                engine.dispose()
            except Exception as exc:  # noqa: BLE001 - reported as the skip reason
                url, reason = None, f"PostgreSQL at {url} not reachable: {exc}"
        _state["result"] = (url, reason)
    return _state["result"]


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def fresh_database() -> tuple[str | None, str]:
    """A new, empty database on the test server: ``(url, "")`` or ``(None, reason)``."""
    url, reason = postgres_server()
    if url is None:
        return None, reason
    name = "pdrec_test_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(_driver(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name, ""
