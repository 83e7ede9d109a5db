"""In-process cost of this tree against another revision, alternating in one run.

``python -m bench.versus --base REV`` checks REV out into a temporary worktree, then runs
this script's measurement (``--child``) alternately against both trees' ``src`` — several
rounds each, interleaved, so machine noise hits both alike — and prints the medians and
the ratio new/old per case. It uses only the public API and ``logto_asgi.testing`` (no
provider): the bare app, an anonymous request, a signed-in cookie request seen before, and
first sights: 6,000 distinct session cookies in turn, more than any cache holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.apps import bare_app, inner_app
from bench.inprocess import Case, Headers, asgi_batch, http_scope, measure, noop_app

# Resolved through PYTHONPATH: the child process puts the measured tree's src first.
from logto_asgi import LogtoMiddleware
from logto_asgi.testing import TestIssuer, signed_in_cookies

ROOT = Path(__file__).resolve().parent.parent
CASES = ("bare", "anonymous", "signed_in", "first_sight", "first_sight_real")
#: More distinct session cookies than any per-process cache holds (4,096 entries).
DISTINCT_COOKIES = 6000
CLAIMS = {"sub": "user-1", "name": "Ada Lovelace", "email": "ada@example.com"}
#: The real session's shape (the bench's signed-in cookie, about 1,900 bytes): its claims,
#: an ES384 ID token's length, the opaque userinfo token.
REAL_CLAIMS = {**CLAIMS, "email_verified": True, "username": "ada", "picture": None, "auth_time": 1700000000}


def _real_cookies(config: Any) -> dict[str, str]:
    claims = {**REAL_CLAIMS, "sub": _like(12), "sid": _like(21), "at_hash": _like(22)}
    return signed_in_cookies(config, claims=claims, id_token=_like(900), access_tokens={"": _like(43)})


def _like(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]


def _cookie_header(cookies: dict[str, str]) -> tuple[bytes, bytes]:
    return b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()


async def _child(rounds: int) -> dict[str, float]:
    issuer = TestIssuer()
    config = issuer.config()
    inner = inner_app()
    app = LogtoMiddleware(inner, config=config)
    cookie: Headers = [(b"host", b"app.test"), _cookie_header(signed_in_cookies(config, claims=CLAIMS))]
    host: Headers = [(b"host", b"app.test")]
    distinct = [
        http_scope("/me", [(b"host", b"app.test"), _cookie_header(signed_in_cookies(config, claims=CLAIMS))])
        for _ in range(DISTINCT_COOKIES)
    ]
    real = [
        http_scope("/me", [(b"host", b"app.test"), _cookie_header(_real_cookies(config))])
        for _ in range(DISTINCT_COOKIES)
    ]
    real_app = LogtoMiddleware(inner_app(), config=config)  # caches of its own
    turn = [0, 0]

    async def first_sight(scope: Any, receive: Any, send: Any) -> None:
        turn[0] = (turn[0] + 1) % DISTINCT_COOKIES
        await app(distinct[turn[0]].copy(), receive, send)

    async def first_sight_real(scope: Any, receive: Any, send: Any) -> None:
        turn[1] = (turn[1] + 1) % DISTINCT_COOKIES
        await real_app(real[turn[1]].copy(), receive, send)

    cases = [
        Case("bare", asgi_batch(bare_app(), host)),
        Case("anonymous", asgi_batch(app, host)),
        Case("signed_in", asgi_batch(app, cookie)),
        Case("first_sight", asgi_batch(first_sight, host)),
        Case("first_sight_real", asgi_batch(first_sight_real, host)),
    ]
    results, _ = await measure(cases, rounds=rounds, driver=Case("driver", asgi_batch(noop_app, host)))
    return {name: result.cpu_us for name, result in results.items()}


def _run_child(src: Path, rounds: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT), str(ROOT / "tests")])}
    out = subprocess.run(
        [sys.executable, "-m", "bench.versus", "--child", "--rounds", str(rounds)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _compare(base: str, passes: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="logto-bench-") as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), base], cwd=ROOT, check=True)
        try:
            runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
            for _ in range(passes):
                runs["base"].append(_run_child(tree / "src", rounds))
                runs["this"].append(_run_child(ROOT / "src", rounds))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
    print(f"in-process CPU per request (µs, median of {passes} alternating passes), {base} vs this tree")
    print(f"{'case':<17}{'base':>10}{'this':>10}{'this/base':>11}")
    for case in CASES:
        old = statistics.median(run[case] for run in runs["base"])
        new = statistics.median(run[case] for run in runs["this"])
        print(f"{case:<17}{old:>10.2f}{new:>10.2f}{new / old:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.versus", description=__doc__)
    parser.add_argument("--base", default="HEAD~1", help="the revision to compare against")
    parser.add_argument("--passes", type=int, default=5, help="alternating passes per tree")
    parser.add_argument("--rounds", type=int, default=40, help="measurement rounds per pass")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.rounds))))
    else:
        _compare(args.base, args.passes, args.rounds)


if __name__ == "__main__":
    main()
