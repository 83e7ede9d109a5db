"""Find the logto-asgi middlewares of an ASGI application, for ``python -m logto_asgi
check --app module:attribute``.

``load_app`` imports the module the way uvicorn does (the app directory first on
``sys.path``) and reads the attribute (``module:attr`` or ``module:attr.sub``), calling
it with ``factory=True``. ``find_middlewares`` walks from that object to every
``LogtoMiddleware`` and ``BearerAuthMiddleware`` it reaches: through the attributes ASGI
wrappers keep their app in (``.app``, Quart's ``.asgi_app``, Starlette's built
``middleware_stack``), middlewares declared but not built yet (Starlette and FastAPI's
``user_middleware``, Litestar's ``middleware``), routers' routes and mounts, Channels'
``ProtocolTypeRouter``, ``functools.partial``, bound methods and closures. Only
instance attributes are read, so no property runs; the walk visits each object once and
stops at ``MAX_OBJECTS``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import types
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bearer import BearerAuthMiddleware
from .middleware import LogtoMiddleware

__all__ = ["AppLoadError", "Found", "find_middlewares", "load_app"]

#: Objects looked at before the walk gives up (an app graph is a few hundred at most).
MAX_OBJECTS = 5000
#: Instance attributes an ASGI wrapper keeps the app it wraps in.
_LINKS = ("app", "asgi_app", "middleware_stack", "_app", "application", "wrapped", "__wrapped__", "router")
#: Instance attributes holding lists of middlewares or routes.
_LISTS = ("user_middleware", "middleware", "routes")
#: Instance attributes holding apps by name (Channels' ``ProtocolTypeRouter``).
_MAPS = ("application_mapping",)
_ATOMS = (str, bytes, int, float, complex, bool, type(None), types.ModuleType, Path)


class AppLoadError(Exception):
    """The app could not be loaded; the message says why, in one sentence."""


def _import(module_name: str, app_dir: str) -> types.ModuleType:
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise AppLoadError(
                f"module {module_name!r} not found in {app_dir} (run from the app's directory, "
                "or pass --app-dir)"
            ) from None
        raise AppLoadError(f"importing {module_name!r} failed: no module named {missing!r}") from None


def load_app(spec: str, *, app_dir: str = ".", factory: bool = False) -> Any:
    """The object ``spec`` (``module:attribute``) names; ``AppLoadError`` when the module
    or the attribute is missing. An exception the module raises while importing (a
    ``ConfigurationError``, say) propagates."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise AppLoadError(f"--app {spec!r} is not module:attribute (for example main:app)")
    module = _import(module_name, str(Path(app_dir).resolve()))
    value: Any = module
    where = module_name
    for name in attribute.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise AppLoadError(f"{where!r} has no attribute {name!r}") from None
        where = f"{where}:{name}" if where == module_name else f"{where}.{name}"
    if factory:
        if not callable(value):
            raise AppLoadError(f"{spec!r} is not callable, so it cannot be a --factory")
        try:
            value = value()
        except Exception as exc:
            raise AppLoadError(f"calling the factory {spec!r} failed: {type(exc).__name__}: {exc}") from None
    return value


@dataclass
class Found:
    """A middleware the walk reached: where, and the instance (``declared``: built here
    from a declaration such as ``Middleware(LogtoMiddleware, config=...)``)."""

    where: str
    middleware: LogtoMiddleware | BearerAuthMiddleware
    declared: bool = False


_MISSING = object()


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    """What a declared middleware is built around: the check never calls it."""


def _instance_attr(obj: Any, name: str) -> Any:
    """``obj.name`` if it is an instance attribute (``__dict__`` or a slot), else ``_MISSING``."""
    try:
        value = inspect.getattr_static(obj, name)
    except (AttributeError, TypeError):
        return _MISSING
    if isinstance(value, types.MemberDescriptorType):
        return getattr(obj, name, _MISSING)
    instance_dict = getattr(obj, "__dict__", None)
    return value if isinstance(instance_dict, dict) and name in instance_dict else _MISSING


def _declaration(entry: Any) -> tuple[type, tuple[Any, ...], dict[str, Any]] | None:
    """``(cls, args, kwargs)`` of a declared logto-asgi middleware (Starlette's
    ``Middleware``, Litestar's ``DefineMiddleware``, or the bare class), else ``None``."""
    if isinstance(entry, type):
        return (entry, (), {}) if issubclass(entry, (LogtoMiddleware, BearerAuthMiddleware)) else None
    for name in ("cls", "middleware"):
        cls = _instance_attr(entry, name)
        if isinstance(cls, type) and issubclass(cls, (LogtoMiddleware, BearerAuthMiddleware)):
            args, kwargs = _instance_attr(entry, "args"), _instance_attr(entry, "kwargs")
            if isinstance(args, tuple) and isinstance(kwargs, dict):
                return cls, args, kwargs
    return None


def _function_links(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, functools.partial):
        yield ".func", obj.func
        yield from ((f".args[{i}]", arg) for i, arg in enumerate(obj.args))
        yield from ((f".keywords[{k!r}]", v) for k, v in obj.keywords.items())
    elif inspect.ismethod(obj):
        yield ".__self__", obj.__self__
    elif inspect.isfunction(obj):
        wrapped = obj.__dict__.get("__wrapped__", _MISSING)
        if wrapped is not _MISSING:
            yield ".__wrapped__", wrapped
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=False):
            try:
                yield f" (closure {name})", cell.cell_contents
            except ValueError:  # an empty cell
                continue


def _links(obj: Any) -> Iterator[tuple[str, Any]]:
    """The objects ``obj`` leads to, each with how (for the report)."""
    if isinstance(obj, (functools.partial, types.MethodType, types.FunctionType)):
        yield from _function_links(obj)
        return
    if isinstance(obj, (list, tuple)):
        yield from ((f"[{i}]", item) for i, item in enumerate(obj))
        return
    built = _instance_attr(obj, "middleware_stack")
    for name in _LINKS:
        value = _instance_attr(obj, name)
        if value is not _MISSING:
            yield f".{name}", value
    for name in _LISTS:
        if name == "user_middleware" and built not in (_MISSING, None):
            continue  # the built stack holds these, already made
        value = _instance_attr(obj, name)
        if isinstance(value, (list, tuple)):
            yield f".{name}", value
    for name in _MAPS:
        value = _instance_attr(obj, name)
        if isinstance(value, dict):
            yield from ((f".{name}[{key!r}]", item) for key, item in value.items())


def find_middlewares(app: Any, where: str = "app") -> tuple[list[Found], int]:
    """Every logto-asgi middleware reachable from ``app`` (outermost first), and how many
    objects the walk looked at. Declared middlewares are built around a no-op app."""
    found: list[Found] = []
    seen: set[int] = set()
    queue: deque[tuple[str, Any]] = deque([(where, app)])
    while queue and len(seen) < MAX_OBJECTS:
        path, obj = queue.popleft()
        if isinstance(obj, _ATOMS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (LogtoMiddleware, BearerAuthMiddleware)):
            found.append(Found(path, obj))
        declared = _declaration(obj)
        if declared is not None:
            cls, args, kwargs = declared
            found.append(Found(path, cls(_no_app, *args, **kwargs), declared=True))
            continue
        if isinstance(obj, type):
            continue
        queue.extend((path + step, child) for step, child in _links(obj))
    return found, len(seen)
