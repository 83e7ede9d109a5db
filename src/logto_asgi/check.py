"""A self-check of a configuration against its provider, in plain words.

``python -m logto_asgi check`` runs it from the command line (on the configuration of an
app's middleware with ``--app``, else reading ``LOGTO_*`` variables or options); the
middleware runs the same checks at startup and logs them. ``check_client`` adds the
questions about the app's own registration that only the command asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import LogtoConfig
from .coordination import CoordinationPlan
from .discovery import ProviderMetadata
from .errors import LogtoError
from .provider import ProviderClient
from .tokens import ALLOWED_ALGORITHMS, key_suits

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
    """Fetch discovery and the JWKS, say what the provider supports, and report what
    would stop sign-in from working, and (given ``coordination``) how the app's processes
    agree and what that guarantees."""
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
        kind = "a Logto endpoint" if config.is_logto else "an OpenID provider"
        report.add("ok", f"discovery answered ({kind}); issuer {metadata.issuer}")
        await _check_keys(report, client, metadata)
        check_capabilities(report, config, metadata)
        _check_registration(report, config)
        return report
    finally:
        if own:
            await client.aclose()


async def run_bearer_checks(
    provider: ProviderClient, audiences: Sequence[str], *, organization_tokens: bool = False
) -> Report:
    """What a ``BearerAuthMiddleware`` needs: discovery, usable signing keys, and the
    tokens it accepts."""
    report = Report()
    try:
        metadata = await provider.metadata()
    except LogtoError as exc:
        report.add("error", f"discovery failed: {exc.description}")
        return report
    report.add("ok", f"discovery answered; issuer {metadata.issuer}")
    await _check_keys(report, provider, metadata)
    if audiences:
        report.add("ok", f"access tokens are accepted for the audience(s): {', '.join(audiences)}")
    if organization_tokens:
        report.add("ok", "organization tokens of this issuer are accepted")
    return report


def _key_algorithm(key: Any) -> str:
    """What a JWKS key signs with: its ``alg``, or its type (and curve)."""
    alg = key.get("alg")
    if isinstance(alg, str):
        return alg
    crv = key.get("crv")
    return f"{key.key_type} {crv}" if crv else str(key.key_type)


async def _check_keys(report: Report, client: ProviderClient, metadata: ProviderMetadata) -> None:
    try:
        keys = await client.signing_keys(None)
    except LogtoError as exc:
        report.add("error", f"the JWKS at {metadata.jwks_uri} failed: {exc.description}")
        keys = []
    usable = [key for key in keys if any(key_suits(key, alg) for alg in ALLOWED_ALGORITHMS)]
    if usable:
        names = ", ".join(sorted({_key_algorithm(key) for key in usable}))
        report.add("ok", f"the JWKS has {len(usable)} usable signing key(s): {names}")
    else:
        report.add("error", "the JWKS has no signing key we can use")
    if len(usable) < len(keys):
        names = ", ".join(sorted({_key_algorithm(key) for key in keys if key not in usable}))
        report.add("warning", f"the JWKS has keys we never accept signatures from: {names}")
    advertised = metadata.raw.get("id_token_signing_alg_values_supported")
    if not isinstance(advertised, list):
        return
    accepted = [alg for alg in advertised if alg in ALLOWED_ALGORITHMS]
    refused = [str(alg) for alg in advertised if alg not in ALLOWED_ALGORITHMS]
    if not accepted:
        report.add(
            "error",
            f"the provider signs ID tokens with {advertised}, none of which is allowed "
            f"({', '.join(ALLOWED_ALGORITHMS)})",
        )
        return
    line = f"ID token algorithms we accept: {', '.join(accepted)}"
    report.add("ok", line + (f" (never: {', '.join(refused)})" if refused else ""))


def _supports(metadata: ProviderMetadata, name: str) -> bool:
    return metadata.raw.get(name) is True


def check_capabilities(report: Report, config: LogtoConfig, metadata: ProviderMetadata) -> None:
    """What the provider supports, against what the configuration needs."""
    _check_pkce(report, metadata)
    _check_scopes(report, config, metadata)
    if _supports(metadata, "authorization_response_iss_parameter_supported"):
        report.add("ok", "the provider sends iss in authorization responses (RFC 9207: mix-up defence)")
    else:
        report.add("ok", "the provider does not advertise iss in authorization responses (RFC 9207)")
    if metadata.end_session_endpoint:
        report.add("ok", "RP-initiated logout: sign-out also ends the provider's session")
    else:
        report.add("warning", "no end_session_endpoint: sign-out will not end the provider's session")
    if metadata.revocation_endpoint:
        report.add("ok", "token revocation: sign-out revokes the refresh token")
    else:
        report.add("warning", "no revocation_endpoint: refresh tokens cannot be revoked at sign-out")
    if not metadata.userinfo_endpoint:
        report.add("warning", "no userinfo_endpoint: fetch_user_info() will not work")
    _check_logout_channels(report, config, metadata)


def _check_pkce(report: Report, metadata: ProviderMetadata) -> None:
    methods = metadata.raw.get("code_challenge_methods_supported")
    if not isinstance(methods, list):
        report.add("warning", "the provider does not advertise PKCE (code_challenge_methods_supported)")
    elif "S256" in methods:
        report.add("ok", f"PKCE methods: {', '.join(map(str, methods))} (S256 is used)")
    else:
        report.add("error", f"the provider's PKCE methods {methods} lack S256, which sign-in uses")


def _check_scopes(report: Report, config: LogtoConfig, metadata: ProviderMetadata) -> None:
    supported = metadata.raw.get("scopes_supported")
    scopes = config.sign_in_scopes(supported)
    if config.is_logto:
        report.add("ok", "offline_access is requested (with prompt=consent, so Logto issues refresh tokens)")
    elif "offline_access" in scopes:
        report.add("ok", "offline_access is supported and requested (refresh tokens)")
    else:
        report.add(
            "ok",
            "offline_access is not listed in scopes_supported, so it is not requested: sessions "
            "refresh only if the provider issues refresh tokens anyway",
        )
    if isinstance(supported, list):
        unknown = [scope for scope in scopes if scope not in supported]
        if unknown:
            report.add("warning", f"scopes not in the provider's scopes_supported: {', '.join(unknown)}")


def _check_logout_channels(report: Report, config: LogtoConfig, metadata: ProviderMetadata) -> None:
    back = _supports(metadata, "backchannel_logout_supported")
    front = _supports(metadata, "frontchannel_logout_supported")
    report.add(
        "ok",
        f"provider-initiated logout: back-channel {'yes' if back else 'no'}, "
        f"front-channel {'yes' if front else 'no'}",
    )
    if config.backchannel_logout_path and not back:
        report.add("warning", "backchannel_logout_path is set, but the provider has no back-channel logout")
    if config.frontchannel_logout_path:
        if not front:
            report.add(
                "warning", "frontchannel_logout_path is set, but the provider has no front-channel logout"
            )
        elif not _supports(metadata, "frontchannel_logout_session_supported"):
            report.add(
                "error", "the provider's front-channel logout sends no sid: it cannot end our sessions"
            )


def _check_registration(report: Report, config: LogtoConfig) -> None:
    callback, after_sign_out = redirect_uris(config)
    where = "in the Logto Console" if config.is_logto else "at the provider"
    report.add("ok", f"register this redirect URI {where}: {callback}")
    report.add("ok", f"register this post sign-out redirect URI: {after_sign_out}")
    base = config.base_url or "http://localhost:8000"
    if config.backchannel_logout_path:
        report.add("ok", f"register this back-channel logout URI: {base}{config.backchannel_logout_path}")
    if config.frontchannel_logout_path:
        report.add(
            "ok",
            "register this front-channel logout URI (session required): "
            f"{base}{config.frontchannel_logout_path}",
        )
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
