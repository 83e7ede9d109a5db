"""Section 6: what OpenTelemetry costs a signed-in request (issue 17).

The same signed-in ``/me`` as section 1's CookieStore case, measured in fresh processes
(``bench/otel_worker.py``) with ``opentelemetry`` hidden (as if not installed),
importable without an SDK, and with the SDK configured (no exporter); each process also
measures the bare app, so every number is µs added over the bare app in that same
process. The three kinds of process run ``repeats`` times, alternating; medians.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.report import Report
from bench.signin import SignedIn

SECTION = "6. OpenTelemetry: signed-in request, µs added over bare (CPU, fresh process each)"
ROOT = Path(__file__).resolve().parent.parent
LABELS = {
    "hidden": "opentelemetry not importable (hidden)",
    "api": "opentelemetry-api importable, no SDK configured",
    "sdk": "  same, SDK configured (no exporter)",
}
#: Importable without an SDK may add at most this much to a signed-in request (the
#: contract: no span on that path; a few attribute reads are noise at this level).
BUDGET_US = 0.5
TIMEOUT = 300


def _available(mode: str) -> bool:
    if mode == "hidden":
        return True
    if importlib.util.find_spec("opentelemetry") is None:
        return False
    return mode != "sdk" or importlib.util.find_spec("opentelemetry.sdk") is not None


def _worker(mode: str, signed: SignedIn, expect: str, rounds: int) -> dict[str, Any]:
    config = signed.config
    settings = {
        "endpoint": config.endpoint,
        "app_id": config.app_id,
        "app_secret": config.app_secret,
        "cookie_secret": config.cookie_secret,
        "base_url": config.base_url,
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(p) for p in (ROOT / "tests", ROOT / "src", ROOT)),
        "BENCH_OTEL": mode,
        "BENCH_SETTINGS": json.dumps(settings),
        "BENCH_COOKIE": signed.header.decode("latin-1"),
        "BENCH_EXPECT": expect,
        "BENCH_ROUNDS": str(rounds),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.otel_worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.otel_worker ({mode}) failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(report: Report, signed: SignedIn, expect: str, *, rounds: int, repeats: int) -> None:
    modes = [m for m in LABELS if _available(m)]
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for r in range(repeats):
        shift = r % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            runs[mode].append(_worker(mode, signed, expect, rounds))
    report.data["otel"] = runs
    added = {m: statistics.median(x["added_us"] for x in rs) for m, rs in runs.items()}
    bare = {m: statistics.median(x["bare_us"] for x in rs) for m, rs in runs.items()}
    loaded = {m: any(x["otel_loaded"] for x in rs) for m, rs in runs.items()}
    if loaded["hidden"]:
        raise RuntimeError("opentelemetry was imported although it was hidden")
    report.row(SECTION, "setup", "", "", f"{repeats} alternating processes per state, {rounds} rounds each")
    for mode in LABELS:
        if mode not in added:
            report.row(SECTION, LABELS[mode], "n/a", "", "opentelemetry (or its SDK) is not installed")
            continue
        note = f"bare {bare[mode]:.1f} µs in those processes"
        if mode != "hidden":
            note += f" · {added[mode] - added['hidden']:+.2f} vs hidden"
            if not loaded[mode]:
                note += " · logto_asgi did not import opentelemetry"
        report.row(SECTION, LABELS[mode], added[mode], "µs", note)
    if "api" in added:
        extra = added["api"] - added["hidden"]
        report.target(
            f"opentelemetry-api importable (no SDK) adds ≤ {BUDGET_US} µs to a signed-in request",
            f"{added['api']:.2f} - {added['hidden']:.2f} = {extra:+.2f} µs",
            extra <= BUDGET_US,
        )
