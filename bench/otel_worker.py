"""One process of section 6 (``bench/otel.py``): the signed-in request's in-process cost
with OpenTelemetry in one of three states, chosen by ``BENCH_OTEL``:

* ``hidden``: ``opentelemetry`` cannot be found (a finder wrapping ``sys.meta_path``
  hides it before anything is imported), as when the package is not installed;
* ``api``: importable, no SDK configured (the API's no-op proxy providers);
* ``sdk``: the SDK's tracer and meter providers set, with no exporter.

The app is the bench's ``LogtoMiddleware`` app built from ``BENCH_SETTINGS`` (JSON,
``LogtoConfig`` options) and called with the cookie in ``BENCH_COOKIE``; it must answer
``BENCH_EXPECT``. Prints one JSON line: the bare app's and the signed-in app's µs of CPU
per call (driver subtracted) and whether any ``opentelemetry`` module was loaded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
from collections.abc import Sequence
from types import ModuleType

MODES = ("hidden", "api", "sdk")


class _Hidden(importlib.abc.MetaPathFinder):
    """A finder that does not find ``opentelemetry``, and delegates everything else."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "opentelemetry" or fullname.startswith("opentelemetry."):
            return None
        find = getattr(self._inner, "find_spec", None)
        if find is None:
            return None
        spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
        return spec

    def invalidate_caches(self) -> None:
        invalidate = getattr(self._inner, "invalidate_caches", None)
        if invalidate is not None:
            invalidate()


def hide_opentelemetry() -> None:
    sys.meta_path[:] = [_Hidden(finder) for finder in sys.meta_path]


def _configure_sdk() -> None:
    from opentelemetry import metrics, trace  # noqa: PLC0415 - only in this mode
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    trace.set_tracer_provider(TracerProvider())
    metrics.set_meter_provider(MeterProvider())


async def measure(mode: str, rounds: int) -> dict[str, object]:
    # Imported here, after the finder is in place (hidden mode).
    from bench.apps import ANONYMOUS, bare_app, logto_app  # noqa: PLC0415
    from bench.inprocess import Case, asgi_batch, call_once, noop_app  # noqa: PLC0415
    from bench.inprocess import measure as run_cases  # noqa: PLC0415
    from logto_asgi import LogtoConfig  # noqa: PLC0415

    if mode == "sdk":
        _configure_sdk()
    app = logto_app(LogtoConfig(**json.loads(os.environ["BENCH_SETTINGS"])))
    host = [(b"host", b"app.test")]
    signed_in = [*host, (b"cookie", os.environ["BENCH_COOKIE"].encode("latin-1"))]
    expect = os.environ["BENCH_EXPECT"]
    for target, headers, answer in ((bare_app(), host, ANONYMOUS), (app, signed_in, expect)):
        status, body, response_headers = await call_once(target, "/me", headers)
        if status != 200 or body.decode() != answer:
            raise SystemExit(f"{mode}: expected 200 {answer!r}, got {status} {body[:200]!r}")
        if any(k == b"set-cookie" for k, _ in response_headers):
            raise SystemExit(f"{mode}: an unchanged session must not be written back")
    cases = [Case("bare", asgi_batch(bare_app(), host)), Case("cookie", asgi_batch(app, signed_in))]
    results, _ = await run_cases(cases, rounds=rounds, driver=Case("driver", asgi_batch(noop_app, host)))
    return {
        "mode": mode,
        "bare_us": results["bare"].cpu_us,
        "cookie_us": results["cookie"].cpu_us,
        "added_us": results["cookie"].cpu_us - results["bare"].cpu_us,
        "wall_added_us": results["cookie"].wall_us - results["bare"].wall_us,
        "otel_loaded": any(m == "opentelemetry" or m.startswith("opentelemetry.") for m in sys.modules),
    }


def main() -> int:
    mode = os.environ.get("BENCH_OTEL", "hidden")
    if mode not in MODES:
        raise SystemExit(f"BENCH_OTEL must be one of {MODES}, not {mode!r}")
    if mode == "hidden":
        hide_opentelemetry()
    import uvloop  # noqa: PLC0415 - the loop the rest of the bench runs on

    result = uvloop.run(measure(mode, int(os.environ.get("BENCH_ROUNDS", "40"))))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
