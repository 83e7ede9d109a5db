"""``app_finder``: loading ``module:attribute`` and finding logto-asgi's middlewares in
the app chains of the frameworks, the way ``python -m logto_asgi check --app`` does."""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from channels.routing import ProtocolTypeRouter
from litestar import Litestar, get
from litestar.middleware import DefineMiddleware
from quart import Quart
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from logto_asgi import BearerAuthMiddleware, InProcessCoordination, LogtoConfig, LogtoMiddleware
from logto_asgi.app_finder import MAX_OBJECTS, AppLoadError, Found, find_middlewares, load_app

pytestmark = pytest.mark.anyio

CONFIG = LogtoConfig(
    endpoint="https://tenant.example",
    app_id="app",
    app_secret="secret",
    cookie_secret="c" * 40,
    coordination=InProcessCoordination(),
)


async def raw(scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI app (never called here)."""


class Wrapper:
    """A plain ASGI middleware keeping its app in ``.app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@pytest.fixture
async def built() -> AsyncIterator[list[Found]]:
    """Collects what a test found, and closes those middlewares' HTTP clients after."""
    everything: list[Found] = []
    yield everything
    for found in everything:
        middleware = found.middleware
        if isinstance(middleware, LogtoMiddleware):
            await middleware.core.aclose()
        else:
            await middleware.aclose()


def find(app: Any, built: list[Found]) -> list[tuple[str, str, bool]]:
    found, _ = find_middlewares(app)
    built.extend(found)
    return [(f.where, type(f.middleware).__name__, f.declared) for f in found]


def session(app: ASGIApp) -> LogtoMiddleware:
    return LogtoMiddleware(app, config=CONFIG)


def bearer(app: ASGIApp) -> BearerAuthMiddleware:
    return BearerAuthMiddleware(app, endpoint="https://tenant.example", audience="https://api.example")


async def test_wrappers_are_followed_outermost_first(built: list[Found]) -> None:
    """Through .app of any wrapper: the session middleware, then the bearer one inside it."""
    app = Wrapper(session(bearer(raw)))
    assert find(app, built) == [
        ("app.app", "LogtoMiddleware", False),
        ("app.app.app", "BearerAuthMiddleware", False),
    ]
    assert built[0].middleware.config is CONFIG  # type: ignore[union-attr]


async def test_starlette_declared_middlewares_are_built_with_their_options(built: list[Found]) -> None:
    """add_middleware(...) before the first request: built here from the declaration, with its config."""
    app = Starlette()
    app.add_middleware(LogtoMiddleware, config=CONFIG)
    declared = Starlette(
        middleware=[Middleware(BearerAuthMiddleware, endpoint="https://t.example", audience="x")]
    )
    assert find(app, built) == [("app.user_middleware[0]", "LogtoMiddleware", True)]
    assert built[0].middleware.config is CONFIG  # type: ignore[union-attr]
    assert find(declared, built) == [("app.user_middleware[0]", "BearerAuthMiddleware", True)]


async def test_a_built_starlette_stack_is_read_once(built: list[Found]) -> None:
    """After the stack is built, its instance is found, not the declaration a second time."""
    app = Starlette()
    app.add_middleware(LogtoMiddleware, config=CONFIG)
    app.middleware_stack = app.build_middleware_stack()
    assert [(where, name) for where, name, declared in find(app, built) if not declared] == [
        ("app.middleware_stack.app", "LogtoMiddleware")
    ]
    assert len(built) == 1


async def test_quart_litestar_and_channels(built: list[Found]) -> None:
    """Quart's wrapped asgi_app, Litestar's DefineMiddleware, Channels' ProtocolTypeRouter."""
    quart = Quart(__name__)
    quart.asgi_app = session(quart.asgi_app)  # type: ignore[method-assign, assignment, arg-type]

    @get("/")
    async def home() -> str:
        return "home"

    declared = DefineMiddleware(LogtoMiddleware, config=CONFIG)  # type: ignore[arg-type]
    litestar = Litestar(route_handlers=[home], middleware=[declared])
    channels = ProtocolTypeRouter({"http": session(raw), "websocket": raw})
    assert find(quart, built) == [("app.asgi_app", "LogtoMiddleware", False)]
    assert ("app.middleware[0]", "LogtoMiddleware", True) in find(litestar, built)
    assert find(channels, built) == [("app.application_mapping['http']", "LogtoMiddleware", False)]


async def test_partials_bound_methods_and_closures(built: list[Found]) -> None:
    """functools.partial, a bound method of a wrapper, and a function closing over the app."""
    inner = session(raw)

    def closing(app: ASGIApp) -> ASGIApp:
        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            await app(scope, receive, send)

        return call

    async def takes(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    assert find(functools.partial(takes, inner), built) == [("app.args[0]", "LogtoMiddleware", False)]
    assert find(Wrapper(inner).__call__, built) == [("app.__self__.app", "LogtoMiddleware", False)]
    assert find(closing(inner), built) == [("app (closure app)", "LogtoMiddleware", False)]


async def test_cycles_and_long_chains_end(built: list[Found]) -> None:
    """A wrapper that is its own app ends; a chain longer than MAX_OBJECTS stops at the bound."""
    loop = Wrapper(raw)
    loop.app = loop
    assert find_middlewares(loop) == ([], 1)
    chain: Any = session(raw)
    for _ in range(MAX_OBJECTS + 10):
        chain = Wrapper(chain)
    found, looked_at = find_middlewares(chain)
    assert found == [] and looked_at == MAX_OBJECTS
    built.append(Found("chain", cast(LogtoMiddleware, _innermost(chain))))


def _innermost(obj: Any) -> Any:
    while isinstance(obj, Wrapper):
        obj = obj.app
    return obj


async def test_properties_are_not_run(built: list[Found]) -> None:
    """Only instance attributes are read: a property named app is never called."""

    class Lazy:
        @property
        def app(self) -> ASGIApp:
            raise AssertionError("the walk ran a property")

    assert find_middlewares(Lazy()) == ([], 1)


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory of throwaway app modules, removed from sys.modules and sys.path after."""
    (tmp_path / "finder_app.py").write_text(
        "def make():\n    return 'made'\n\n\nclass Holder:\n    inner = 'value'\n\n\nholder = Holder()\n"
    )
    (tmp_path / "finder_broken.py").write_text("import no_such_dependency_anywhere\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in ("finder_app", "finder_broken"):
        sys.modules.pop(name, None)


def test_load_app_reads_attributes_and_calls_factories(app_dir: Path) -> None:
    """module:attr, module:attr.sub, and --factory; the app directory comes first on sys.path."""
    assert load_app("finder_app:holder.inner", app_dir=str(app_dir)) == "value"
    assert load_app("finder_app:make", app_dir=str(app_dir), factory=True) == "made"
    assert sys.path[0] == str(app_dir.resolve())


@pytest.mark.parametrize(
    ("spec", "factory", "message"),
    [
        ("finder_app", False, "--app 'finder_app' is not module:attribute (for example main:app)"),
        ("no_such_module_here:app", False, "module 'no_such_module_here' not found in "),
        (
            "finder_broken:app",
            False,
            "importing 'finder_broken' failed: no module named 'no_such_dependency_anywhere'",
        ),
        ("finder_app:missing", False, "'finder_app' has no attribute 'missing'"),
        ("finder_app:holder.missing", False, "'finder_app:holder' has no attribute 'missing'"),
        ("finder_app:holder", True, "'finder_app:holder' is not callable, so it cannot be a --factory"),
    ],
)
def test_load_app_says_what_is_wrong(app_dir: Path, spec: str, factory: bool, message: str) -> None:
    """Each way --app can be wrong gets its own sentence."""
    with pytest.raises(AppLoadError) as caught:
        load_app(spec, app_dir=str(app_dir), factory=factory)
    assert str(caught.value).startswith(message), str(caught.value)
