"""HTTP load on 127.0.0.1 with wrk, and a served app to aim it at.

The API benchmark compares an endpoint with a trivial endpoint of the same app, under the same
load, in the same run: on shared two-core machines only ratios mean something. wrk (Debian's
``wrk`` package) generates the load because a Python client would be the bottleneck on two cores
and flatten every ratio toward 1.

Example::

    with served_api(data_dir, workers=2) as base:
        figures = wrk_load(base, ["/healthz"], seconds=10, connections=32)
        print(figures["rps"], figures["p99_ms"])
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

_LUA = """
local paths = {%(paths)s}
local i = 0
%(headers)s
request = function()
  i = (i %% #paths) + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"socket_errors":%%d,"non_2xx":%%d,' ..
    '"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"mean_us":%%f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def require_wrk() -> str:
    """Path of the ``wrk`` binary, or an error that says how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("the API benchmark needs wrk: install Debian's package "
                           "(`apt-get install -y wrk`); `make bench` does this when it can")
    return path


def wrk_load(base_url: str, paths: Sequence[str], *, seconds: int = 10, connections: int = 32,
             threads: int = 1, headers: Mapping[str, str] | None = None) -> dict:
    """Run wrk against ``base_url`` cycling through ``paths``; return throughput and latency.

    Returns a dict with ``requests``, ``rps``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``mean_ms``,
    ``socket_errors`` and ``non_2xx`` (a benchmark whose requests fail measures nothing, so
    callers should check the last two).
    """
    wrk = require_wrk()
    quoted = ", ".join(json.dumps(p) for p in paths)
    head = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
                     for k, v in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_LUA % {"paths": quoted, "headers": head})
        script = f.name
    try:
        out = subprocess.run(
            [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
             "-s", script, base_url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(script)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary; its output was:\n{out}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "mean_ms": raw["mean_us"] / 1e3,
        "socket_errors": raw["socket_errors"],
        "non_2xx": raw["non_2xx"],
    }


_STARTED = "Application startup complete."
"""What uvicorn logs once per worker when that worker's app has started."""


def connections_by_pid(port: int) -> dict[int, int]:
    """Accepted TCP connections on ``port`` per process, among this process's descendants.

    Says how a server started from here (:func:`served_api`) spread its clients over its
    workers; a descendant with none is left out. Needs psutil.
    """
    import psutil

    counts: dict[int, int] = {}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            n = sum(1 for c in proc.net_connections("tcp")
                    if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)
            if n:
                counts[proc.pid] = n
    return counts


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_api(data_dir: Path, *, workers: int = 2, env: Mapping[str, str] | None = None,
               start_timeout: float = 120.0, args: Sequence[str] = ()) -> Iterator[str]:
    """Serve the API with ``pdrec serve`` in a subprocess; yield its base URL; stop it after.

    Yields once every worker has started (its "Application startup complete." in the log), not
    when the first one answers: connections opened before a worker listens all go to the others
    and stay there, which would skew a benchmark. ``args`` are more ``pdrec serve`` options
    (``["--shared-socket"]``). The server's output goes to ``data_dir/serve.log``, which the
    error names when it fails to become healthy.
    """
    port = free_port()
    log_path = Path(data_dir) / "serve.log"
    cmd = [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(data_dir),
           "--port", str(port), "--workers", str(workers), *args]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"`pdrec serve` exited with {proc.returncode}; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if (httpx.get(f"{base}/readyz", timeout=2).status_code == 200
                        and log_path.read_text().count(_STARTED) >= workers):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"API not ready after {start_timeout:.0f} s; see {log_path}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
