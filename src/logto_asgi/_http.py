"""Small raw-ASGI helpers: cookies in, cookies out, responses, URLs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from starlette.types import Message, Scope, Send

from .errors import InvalidRequest

NO_STORE: list[tuple[bytes, bytes]] = [
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]
MAX_COOKIE_HEADER = 64 * 1024


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestCookies(dict[str, str]):
    """A request's cookies by name (the first of duplicate names), and which names came
    more than once: a sibling subdomain can set a cookie of the same name for the parent
    domain, so a duplicated name of ours is ambiguous and must not be trusted."""

    __slots__ = ("duplicates", "joined")

    def __init__(self) -> None:
        super().__init__()
        self.duplicates: frozenset[str] = frozenset()
        #: Session values already assembled from these cookies, by cookie name: a parsed
        #: header is reused for every request that sends it, and so is this.
        self.joined: dict[str, str | None] = {}


def duplicated(cookies: Mapping[str, str], name: str) -> bool:
    """Whether the request sent ``name`` more than once."""
    return isinstance(cookies, RequestCookies) and name in cookies.duplicates


def parse_cookies(raw: str) -> RequestCookies:
    """Cookie header to dict; the first of duplicate names is kept (most specific path),
    and the duplicated names are recorded."""
    cookies = RequestCookies()
    if len(raw) > MAX_COOKIE_HEADER:
        return cookies
    duplicates: set[str] = set()
    for part in raw.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            name = name.strip()
            if name in cookies:
                duplicates.add(name)
            elif name:
                cookies[name] = value.strip().strip('"')
    if duplicates:
        cookies.duplicates = frozenset(duplicates)
    return cookies


def request_cookies(scope: Scope) -> RequestCookies:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"]
    return parse_cookies("; ".join(values)) if values else RequestCookies()


MAX_QUERY_FIELDS = 64


def query_params(scope: Scope) -> dict[str, str]:
    """First value of each query parameter (a repeated parameter cannot override one);
    ``InvalidRequest`` for more than ``MAX_QUERY_FIELDS`` of them."""
    raw = scope.get("query_string", b"").decode("latin-1")
    params: dict[str, str] = {}
    try:
        fields = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:  # "Max number of fields exceeded"
        raise InvalidRequest(f"the query has more than {MAX_QUERY_FIELDS} parameters") from None
    for key, value in fields:
        params.setdefault(key, value)
    return params


def origin(scope: Scope, base_url: str | None) -> str:
    """``base_url``, else scheme and Host of the request."""
    if base_url:
        return base_url
    scheme = scope.get("scheme", "http")
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    host = header(scope, b"host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"


def is_https(scope: Scope, base_url: str | None) -> bool:
    if base_url:
        return base_url.startswith("https://")
    return scope.get("scheme") in ("https", "wss")


class CookieJar:
    """Builds ``Set-Cookie`` headers with the configured attributes."""

    __slots__ = ("_domain", "_path", "_samesite", "_secure")

    def __init__(self, *, path: str, domain: str | None, samesite: str, secure: bool | None) -> None:
        self._path = path
        self._domain = domain
        self._samesite = samesite.capitalize()
        self._secure = secure

    def _attrs(self, max_age: int | None, secure: bool, samesite: str | None) -> str:
        parts = [
            f"Path={self._path}",
            *([] if max_age is None else [f"Max-Age={max_age}"]),
            "HttpOnly",
            f"SameSite={samesite or self._samesite}",
        ]
        if self._domain:
            parts.append(f"Domain={self._domain}")
        if secure or (samesite or self._samesite) == "None":
            parts.append("Secure")
        return "; ".join(parts)

    def secure_for(self, scope: Scope, base_url: str | None) -> bool:
        """Whether cookies get ``Secure``: configured, or on for https."""
        return self._secure if self._secure is not None else is_https(scope, base_url)

    def set(
        self, name: str, value: str, *, max_age: int, secure: bool, samesite: str | None = None
    ) -> tuple[bytes, bytes]:
        return (
            b"set-cookie",
            f"{name}={value}; {self._attrs(max(0, max_age), secure, samesite)}".encode("latin-1"),
        )

    def set_for_browser_session(self, name: str, value: str, *, secure: bool) -> tuple[bytes, bytes]:
        """A cookie without ``Max-Age``: the browser forgets it when it closes."""
        return (b"set-cookie", f"{name}={value}; {self._attrs(None, secure, None)}".encode("latin-1"))

    def delete(self, name: str, *, secure: bool) -> tuple[bytes, bytes]:
        return (
            b"set-cookie",
            f'{name}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; {self._attrs(0, secure, None)}'.encode(
                "latin-1"
            ),
        )


async def send_response(
    send: Send,
    status: int,
    body: bytes = b"",
    *,
    content_type: bytes | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    raw_headers = [*NO_STORE, *headers]
    if content_type:
        raw_headers.append((b"content-type", content_type))
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def redirect(
    send: Send, location: str, *, status: int = 302, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await send_response(send, status, headers=[(b"location", location.encode("latin-1")), *headers])


def add_headers(message: Message, extra: list[tuple[bytes, bytes]]) -> None:
    message["headers"] = [*message.get("headers", ()), *extra]
