"""A self-check of a configuration against its provider, in plain words.

``python -m logto_asgi check`` runs it from the command line (reading ``LOGTO_*``
variables or options); the middleware runs the same checks at startup and logs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .config import LogtoConfig
from .coordination import CoordinationPlan
from .discovery import ProviderMetadata
from .errors import LogtoError
from .provider import ProviderClient
from .tokens import ALLOWED_ALGORITHMS

Level = Literal["ok", "warning", "error"]


@dataclass
class Finding:
    """One line of the report."""

    level: Level
    message: str


@dataclass
class Report:
    """What the check found; ``ok`` is false when any finding is an error."""

    findings: list[Finding] = field(default_factory=list)

    def add(self, level: Level, message: str) -> None:
        self.findings.append(Finding(level, message))

    @property
    def ok(self) -> bool:
        return not any(f.level == "error" for f in self.findings)

    def render(self) -> str:
        marks = {"ok": "ok     ", "warning": "warning", "error": "ERROR  "}
        lines = [f"{marks[f.level]}  {f.message}" for f in self.findings]
        lines.append("All checks passed." if self.ok else "Some checks failed: fix the errors above.")
        return "\n".join(lines)


def redirect_uris(config: LogtoConfig, origin: str | None = None) -> tuple[str, str]:
    """The sign-in redirect URI and post sign-out redirect URI to register at the provider."""
    base = config.base_url or origin or "http://localhost:8000"
    sign_out = config.post_sign_out_redirect
    return base + config.callback_path, sign_out if not sign_out.startswith("/") else base + sign_out


async def run_checks(
    config: LogtoConfig, provider: ProviderClient | None = None, coordination: CoordinationPlan | None = None
) -> Report:
    """Fetch discovery and the JWKS and report what would stop sign-in from working, and
    (given ``coordination``) how the app's processes agree and what that guarantees."""
    report = Report()
    if coordination is not None:
        report.add("ok", f"coordination: {coordination.description}; {coordination.guarantee}")
    own = provider is None
    client = provider or ProviderClient(config)
    try:
        try:
            metadata = await client.metadata()
        except LogtoError as exc:
            report.add("error", f"discovery at {config.metadata_url} failed: {exc.description}")
            return report
        report.add("ok", f"discovery answered; issuer {metadata.issuer}")
        await _check_keys(report, client, metadata)
        _check_endpoints(report, metadata)
        _check_registration(report, config)
        return report
    finally:
        if own:
            await client.aclose()


async def _check_keys(report: Report, client: ProviderClient, metadata: ProviderMetadata) -> None:
    try:
        keys = await client.signing_keys(None)
    except LogtoError as exc:
        report.add("error", f"the JWKS at {metadata.jwks_uri} failed: {exc.description}")
        keys = []
    if keys:
        report.add("ok", f"the JWKS has {len(keys)} usable signing key(s)")
    else:
        report.add("error", "the JWKS has no signing key we can use")
    advertised = metadata.raw.get("id_token_signing_alg_values_supported")
    if not isinstance(advertised, list):
        return
    usable = [alg for alg in advertised if alg in ALLOWED_ALGORITHMS]
    if usable:
        report.add("ok", f"ID token algorithms we accept: {', '.join(usable)}")
    else:
        report.add(
            "error",
            f"the provider signs ID tokens with {advertised}, none of which is allowed "
            f"({', '.join(ALLOWED_ALGORITHMS)})",
        )


def _check_endpoints(report: Report, metadata: ProviderMetadata) -> None:
    if not metadata.end_session_endpoint:
        report.add("warning", "no end_session_endpoint: sign-out will not end the provider's session")
    if not metadata.revocation_endpoint:
        report.add("warning", "no revocation_endpoint: refresh tokens cannot be revoked at sign-out")
    if not metadata.userinfo_endpoint:
        report.add("warning", "no userinfo_endpoint: fetch_user_info() will not work")


def _check_registration(report: Report, config: LogtoConfig) -> None:
    callback, after_sign_out = redirect_uris(config)
    report.add("ok", f"register this redirect URI in the Logto Console: {callback}")
    report.add("ok", f"register this post sign-out redirect URI: {after_sign_out}")
    if config.backchannel_logout_path:
        base = config.base_url or "http://localhost:8000"
        report.add("ok", f"register this back-channel logout URI: {base}{config.backchannel_logout_path}")
    if config.base_url is None:
        report.add(
            "warning",
            "base_url is not set: redirect URIs are built from each request's Host header; "
            "set it in production",
        )
    elif config.base_url.startswith("http://") and not any(
        host in config.base_url for host in ("localhost", "127.0.0.1")
    ):
        report.add("warning", "base_url is plain http: cookies will not be marked Secure")
    _check_cookie_name(report, config)


def _check_cookie_name(report: Report, config: LogtoConfig) -> None:
    """On https without a shared cookie domain, a ``__Host-`` name stops sibling
    subdomains from planting a session cookie (cookie tossing)."""
    https = config.base_url is not None and config.base_url.startswith("https://")
    if https and config.cookie_domain is None and not config.cookie_name.startswith("__Host-"):
        report.add(
            "warning",
            f"cookie_name {config.cookie_name!r} has no __Host- prefix: a sibling subdomain could "
            "plant a session cookie; consider cookie_name='__Host-logto' (signs users out once)",
        )
