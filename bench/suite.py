"""The whole run: start the provider and Redis, sign in for real, then every section."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import costs, otel, protocol, sizes, storm, throughput
from bench.report import Report
from bench.signin import LARGE_SCOPES, LARGE_TOKENS, Baseline, SignedIn, sign_in_baseline, sign_in_logto
from logto_asgi import MemoryStore
from logto_asgi.sessions.redis import RedisStore
from support.app import SHOPPING, STORE
from support.provider import start_provider
from support.redis_server import redis_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"


@dataclass(frozen=True)
class Settings:
    rounds: int
    sign_ins: int
    pairs: int
    sign_in_seconds: float
    wrk_seconds: int
    wrk_rounds: int
    storm_repeats: int
    otel_repeats: int
    output: Path

    @classmethod
    def parse(cls, argv: list[str] | None) -> Settings:
        parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
        parser.add_argument("--quick", action="store_true", help="a short smoke run (numbers are rough)")
        parser.add_argument("--rounds", type=int, help="in-process rounds (batches per case)")
        parser.add_argument("--sign-ins", type=int, help="sign-ins counted for the provider (default 1000)")
        parser.add_argument("--pairs", type=int, help="alternating sign-ins timed for CPU (default 200)")
        parser.add_argument("--wrk-seconds", type=int, help="length of one wrk run (default 3)")
        parser.add_argument("--wrk-rounds", type=int, help="wrk runs per app (default 3)")
        parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON file (default {RESULTS})")
        args = parser.parse_args(argv)
        quick = bool(args.quick)
        return cls(
            rounds=args.rounds or (20 if quick else 160),
            sign_ins=args.sign_ins or (100 if quick else 1000),
            pairs=args.pairs or (20 if quick else 200),
            sign_in_seconds=60.0,
            wrk_seconds=args.wrk_seconds or (1 if quick else 3),
            wrk_rounds=args.wrk_rounds or (1 if quick else 3),
            storm_repeats=2 if quick else 5,
            otel_repeats=1 if quick else 3,
            output=args.output,
        )


def _meta(settings: Settings) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "commit": commit,
        "settings": {k: str(v) for k, v in vars(settings).items()},
    }


def _step(name: str, started: float) -> None:
    print(f"[bench {time.perf_counter() - started:6.1f}s] {name}", file=sys.stderr, flush=True)


async def main(argv: list[str] | None = None) -> Report:
    settings = Settings.parse(argv)
    report = Report(meta=_meta(settings))
    t0 = time.perf_counter()
    with start_provider() as provider, redis_server() as redis:
        _step("provider and redis-server up; signing in", t0)
        typical = await sign_in_logto(provider)
        large = await sign_in_logto(
            provider, scopes=list(LARGE_SCOPES), resources=[SHOPPING, STORE], tokens=LARGE_TOKENS
        )
        first = await sign_in_logto(provider)
        memory = await sign_in_logto(provider, store=MemoryStore())
        redis_store = RedisStore(url=redis.url)
        in_redis = await sign_in_logto(provider, store=redis_store)
        # The same with the local cache (issue 18's choice for "≤ one GET"), keys of its own.
        local_store = RedisStore(url=redis.url, prefix="logto-local:", local_cache=10_000)
        in_redis_local = await sign_in_logto(provider, store=local_store)
        baseline = await sign_in_baseline(provider)
        keys = await redis_store.client.keys(f"{redis_store.prefix}session:*")
        if len(keys) != 1:
            raise RuntimeError(f"expected one session in Redis, found {len(keys)}")
        redis_key = keys[0].decode() if isinstance(keys[0], bytes) else str(keys[0])
        sub = await _sub(typical)
        try:
            _step(f"1. in-process ({settings.rounds} rounds)", t0)
            apps = costs.Apps(
                first,
                typical,
                large,
                memory,
                in_redis,
                in_redis_local,
                baseline,
                redis_store.client,
                redis_key,
                sub,
            )
            await costs.run(report, apps, rounds=settings.rounds)
            _step(f"6. opentelemetry ({settings.otel_repeats} processes per state)", t0)
            otel.run(
                report, typical, sub, rounds=max(20, settings.rounds // 4), repeats=settings.otel_repeats
            )
            _step("4. sizes", t0)
            await sizes.run(
                report,
                typical=typical,
                large=large,
                memory=memory,
                baseline=baseline,
                redis_client=redis_store.client,
                redis_key=redis_key,
            )
            _step(f"3. protocol ({settings.sign_ins} sign-ins, {settings.pairs} timed pairs)", t0)
            await protocol.run(
                report,
                provider,
                sign_ins=settings.sign_ins,
                pairs=settings.pairs,
                max_seconds=settings.sign_in_seconds,
            )
            _step("5. concurrency", t0)
            await storm.run(report, provider, repeats=settings.storm_repeats)
            _step("2. throughput (uvicorn + wrk)", t0)
            for workers in (1, 4):  # 4: several processes, the default coordination in place
                throughput.run(
                    report,
                    _servers(typical, baseline, sub),
                    rounds=settings.wrk_rounds,
                    seconds=settings.wrk_seconds,
                    workers=workers,
                )
        finally:
            for signed in (typical, large, memory, in_redis, in_redis_local):
                await signed.harness.aclose()
            await baseline.aclose()
    report.meta["seconds"] = round(time.perf_counter() - t0, 1)
    report.meta["load_average_at_end"] = os.getloadavg()
    _step("done", t0)
    return report


async def _sub(signed: SignedIn) -> str:
    session = await signed.middleware.core.backend.load(signed.cookies)
    if session is None:
        raise RuntimeError("the typical session does not load")
    return str(session.claims["sub"])


def _servers(typical: SignedIn, baseline: Baseline, sub: str) -> list[throughput.Server]:
    config = typical.config
    settings: dict[str, object] = {
        "endpoint": config.endpoint,
        "app_id": config.app_id,
        "app_secret": config.app_secret,
        "cookie_secret": config.cookie_secret,
        "base_url": config.base_url,
    }
    cookie = typical.header.decode("latin-1")
    return [
        throughput.Server(
            "bare", "bare Starlette app (sent the same cookie)", "bare", {}, cookie, "anonymous"
        ),
        throughput.Server("logto", "logto-asgi, CookieStore, signed in", "logto", settings, cookie, sub),
        throughput.Server(
            "baseline",
            "baseline (Authlib + SessionMiddleware), signed in",
            "baseline",
            {"secret_key": baseline.secret_key},
            baseline.header.decode("latin-1"),
            sub,
        ),
    ]
