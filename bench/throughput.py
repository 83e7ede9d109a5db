"""Section 2: requests per second through uvicorn (uvloop, one worker) on loopback, with
wrk as the load generator; short runs alternating between the apps.

Besides wrk's requests per second, each run records the server process's CPU time (user
+ system, from /proc) per request: on a machine shared with other work, wrk's rate also
measures whoever else holds the cores, while CPU per request — and the capacity it
implies, 1 s / CPU per request — is closer to the server's own cost. (Pinning server and
wrk to separate cores was tried: on a shared machine it made both slower and noisier.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import Report
from support.server import free_port, run_uvicorn

SECTION = "2. Throughput through uvicorn on loopback (requests/s, median of runs)"
ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    label: str
    kind: str
    settings: dict[str, object]
    cookie: str
    expect: str


@dataclass
class Run:
    rps: float
    requests: int
    server_cpu_us: float  # per request


def http_impl() -> str:
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads) and of its children (the
    workers of ``uvicorn --workers N``)."""
    fields = _stat(pid)
    total = int(fields[11]) + int(fields[12])
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != str(pid):
            try:
                child = _stat(int(entry))
            except OSError:  # gone meanwhile
                continue
            if child[1] == str(pid):
                total += int(child[11]) + int(child[12])
    return total / TICKS


def _wrk(url: str, cookie: str, *, seconds: int, connections: int, pid: int) -> Run:
    """One wrk run against the server process ``pid``."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-H", f"Cookie: {cookie}", url,
    ]  # fmt: skip
    before = _cpu_seconds(pid)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    used = _cpu_seconds(pid) - before
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    if rate is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{done.stdout}\n{done.stderr}")
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", done.stdout)
    if errors is not None:
        bad += sum(int(n) for n in errors.groups())
    if bad:
        raise RuntimeError(f"{url}: {bad} failed requests under wrk:\n{done.stdout}")
    requests = int(total.group(1))
    return Run(float(rate.group(1)), requests, used / max(requests, 1) * 1e6)


def run(
    report: Report,
    servers: list[Server],
    *,
    rounds: int,
    seconds: int,
    connections: int = 32,
    workers: int = 1,
) -> None:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    impl = http_impl()
    args = [
        "--loop",
        "uvloop",
        "--http",
        impl,
        "--workers",
        str(workers),
        "--no-access-log",
        "--lifespan",
        "on",
    ]
    runs: dict[str, list[Run]] = {s.name: [] for s in servers}
    with ExitStack() as stack:
        targets: dict[str, tuple[str, int]] = {}
        for server in servers:
            env = {"BENCH_APP": server.kind, "BENCH_SETTINGS": json.dumps(server.settings)}
            process = stack.enter_context(
                run_uvicorn(
                    "bench.served:app", port=free_port(), env=env, app_dir=ROOT, args=args, ready_path="/me"
                )
            )
            url = f"{process.url}/me"
            targets[server.name] = (url, process.process.pid)
            got = httpx.get(url, headers={"cookie": server.cookie}, timeout=5)
            if got.status_code != 200 or got.text != server.expect:
                raise RuntimeError(f"{server.name} under uvicorn: {got.status_code} {got.text[:200]!r}")
        for server in servers:  # warm-up
            url, pid = targets[server.name]
            _wrk(url, server.cookie, seconds=1, connections=connections, pid=pid)
        for r in range(rounds):
            shift = r % len(servers)
            for server in servers[shift:] + servers[:shift]:
                url, pid = targets[server.name]
                runs[server.name].append(
                    _wrk(url, server.cookie, seconds=seconds, connections=connections, pid=pid)
                )
    rps = {name: statistics.median(r.rps for r in rs) for name, rs in runs.items()}
    cpu = {name: statistics.median(r.server_cpu_us for r in rs) for name, rs in runs.items()}
    key = "throughput" if workers == 1 else f"throughput_{workers}_workers"
    report.data[key] = {name: [vars(r) for r in rs] for name, rs in runs.items()}
    report.data[f"{key}_setup"] = {
        "wrk": f"-t1 -c{connections} -d{seconds}s",
        "rounds": rounds,
        "uvicorn": " ".join(args),
    }
    setup = f"wrk -t1 -c{connections} -d{seconds}s, {rounds} alternating runs per app"
    report.row(
        SECTION,
        f"setup, {workers} worker{'s' if workers > 1 else ''}",
        "",
        "",
        f"{setup}; uvicorn {' '.join(args)}",
    )
    for server in servers:
        name = server.name
        note = f"server CPU {cpu[name]:.1f} µs/req (capacity {1e6 / cpu[name]:,.0f}/s)"
        if name != "bare":
            note += (
                f" · {rps[name] / rps['bare']:.0%} of bare (CPU: {cpu['bare'] / cpu[name]:.0%})"
                f" · x{rps[name] / rps['baseline']:.2f} baseline (CPU: x{cpu['baseline'] / cpu[name]:.2f})"
            )
        report.row(SECTION, f"  {workers}w: {server.label}", rps[name], "req/s", note)
    ours, bare, base = rps["logto"], rps["bare"], rps["baseline"]
    share, times = cpu["bare"] / cpu["logto"], cpu["baseline"] / cpu["logto"]
    report.target(
        f"uvicorn {workers} worker{'s' if workers > 1 else ''}: server CPU per request ≥ 80% of bare's "
        "share, ≥ 2x the baseline",
        f"{share:.0%} of bare, x{times:.2f} baseline (capacity)",
        share >= 0.80 and times >= 2.0,
    )
    report.target(
        "  same, on wrk req/s (info)",
        f"{ours / bare:.0%} of bare, x{ours / base:.2f} baseline",
        ours >= 0.80 * bare and ours >= 2.0 * base,
    )
