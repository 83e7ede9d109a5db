"""Section 3: what a sign-in costs the provider and our CPU.

Provider requests are counted by the provider itself (``counts()``); its own pages
(``authorization``, ``interaction``, ``authorization_resume``: the browser's part) are
left out, so what remains is what the app sent. CPU time is ``time.process_time()``
around the callback's ASGI call only, for our callback and for the baseline's
(Authlib's ``authorize_access_token`` + SessionMiddleware), alternating.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.apps import BASELINE_CALLBACK, inner_app
from bench.report import Report
from bench.signin import Baseline, baseline_sign_in, sign_in_baseline
from support.app import Harness, make_harness, new_browser
from support.provider import OidcTestProvider

SECTION = "3. Protocol cost against the real provider"
BROWSER_ROUTES = frozenset({"authorization", "authorization_resume", "interaction"})


def app_requests(counts: Mapping[str, int]) -> int:
    """Requests the app (not the browser) sent to the provider."""
    return sum(n for key, n in counts.items() if key not in BROWSER_ROUTES)


def describe(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in BROWSER_ROUTES) or "none"


class CallbackTimer:
    """Wraps an app; records the CPU time of every request to ``path``."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        self.samples: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        start = time.process_time()
        await self.app(scope, receive, send)
        self.samples.append(time.process_time() - start)


def _forget_interactions(browser: httpx.AsyncClient) -> None:
    """Drop the provider's finished interaction cookies (one pair per sign-in, each on its
    own path): kept, they pile up in the test browser's jar, which httpx scans on every
    request, and the thousandth sign-in takes several times as long as the first."""
    jar = browser.cookies.jar
    for cookie in [c for c in jar if c.name.startswith("_interaction")]:
        jar.clear(cookie.domain, cookie.path, cookie.name)


async def _ours(harness: Harness, browser: httpx.AsyncClient) -> None:
    response = await harness.sign_in(client=browser)
    _forget_interactions(browser)
    if response.status_code != 302 or "logto=" not in response.headers.get("set-cookie", ""):
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")


async def _theirs(baseline: Baseline) -> None:
    response = await baseline_sign_in(baseline.browser)
    _forget_interactions(baseline.browser)
    if response.status_code != 302 or "session=" not in response.headers.get("set-cookie", ""):
        raise RuntimeError(f"baseline sign-in failed: {response.status_code} {response.text[:300]}")


async def run(
    report: Report, provider: OidcTestProvider, *, sign_ins: int, pairs: int, max_seconds: float
) -> None:
    # A middleware that has never talked to the provider: the first sign-in is cold.
    harness = await make_harness(provider, app=inner_app(), scopes=[], resources=[])
    ours = CallbackTimer(harness.middleware, harness.config.callback_path)
    browser = new_browser(ours)
    baseline: Baseline | None = None
    try:
        await provider.reset_counts()
        await _ours(harness, browser)
        first = await provider.counts()
        await provider.reset_counts()
        started = time.perf_counter()
        done = 1
        while done < sign_ins and time.perf_counter() - started < max_seconds:
            await _ours(harness, browser)
            done += 1
        elapsed = time.perf_counter() - started
        warm = await provider.counts()
        warm_n = done - 1

        # Our callback against the baseline's, alternating, both warm.
        timers: list[CallbackTimer] = []

        def timed(app: ASGIApp) -> ASGIApp:
            timers.append(CallbackTimer(app, BASELINE_CALLBACK))
            return timers[-1]

        baseline = await sign_in_baseline(provider, wrap=timed)
        theirs = timers[0]
        theirs.samples.clear()
        ours.samples.clear()
        for _ in range(pairs):
            await _ours(harness, browser)
            await _theirs(baseline)
    finally:
        await browser.aclose()
        await harness.aclose()
        if baseline is not None:
            await baseline.aclose()

    per_warm = app_requests(warm) / warm_n
    total_discovery = first.get("discovery", 0) + warm.get("discovery", 0)
    total_jwks = first.get("jwks", 0) + warm.get("jwks", 0)
    our_cpu = statistics.median(ours.samples) * 1e6
    their_cpu = statistics.median(theirs.samples) * 1e6
    report.data["protocol"] = {
        "sign_ins": done,
        "sign_in_seconds": elapsed,
        "first_sign_in_counts": first,
        "warm_counts": warm,
        "callback_cpu_us": {"ours": ours.samples, "baseline": theirs.samples},
    }
    note = "" if done >= sign_ins else f"stopped after {max_seconds:.0f} s: fewer than {sign_ins:,} asked"
    report.row(SECTION, "sign-ins done (one browser, provider session kept)", done, "", note)
    report.row(
        SECTION,
        "provider requests, first (cold) sign-in",
        app_requests(first),
        "",
        describe(first),
    )
    report.row(
        SECTION, "provider requests per warm sign-in", per_warm, "", describe(warm) + f" over {warm_n:,}"
    )
    report.row(SECTION, f"discovery fetches in {done:,} sign-ins", total_discovery)
    report.row(SECTION, f"JWKS fetches in {done:,} sign-ins", total_jwks)
    report.row(
        SECTION,
        "warm sign-in, whole journey (browser + provider + app)",
        elapsed / max(warm_n, 1) * 1e3,
        "ms",
    )
    report.row(
        SECTION, "callback CPU per sign-in, logto-asgi", our_cpu, "µs", f"median of {len(ours.samples)}"
    )
    report.row(
        SECTION,
        "callback CPU per sign-in, baseline (Authlib)",
        their_cpu,
        "µs",
        f"median of {len(theirs.samples)}, alternating with ours · ours = {our_cpu / their_cpu:.0%}",
    )
    report.target(
        "warm sign-in: exactly 1 provider request",
        f"{per_warm:.3f} per warm sign-in ({describe(warm)})",
        app_requests(warm) == warm_n and warm.get("token:authorization_code", 0) == warm_n,
    )
    report.target(
        "our callback CPU ≤ 5% of the baseline's",
        f"{our_cpu:.0f} µs vs {their_cpu:.0f} µs = {our_cpu / their_cpu:.0%}",
        our_cpu <= 0.05 * their_cpu,
    )
