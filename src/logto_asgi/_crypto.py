"""Keys derived from the cookie secrets, compact JWE (``dir`` + ``A256GCM``) and HMAC.

Why not joserfc's JWE here: this runs on every signed-in request, and joserfc's generic
JWE path costs about 40 µs per decrypt where AES-GCM itself costs about 1 µs. The format
is plain RFC 7516 compact serialisation, so joserfc (and any JOSE library) can still
decrypt what we write — a unit test pins that. ``cryptography`` is joserfc's own
dependency; no new package is installed for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import _speedups

_SALT = b"logto-asgi/v1"


class InvalidToken(Exception):
    """A value could not be decrypted or verified (tampered, truncated, wrong key)."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    """Decode unpadded base64url; raise ``InvalidToken`` on anything else."""
    raw = data.encode("ascii", "strict") if data.isascii() else b"!"
    try:
        return _speedups.b64url_decode(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose (HKDF-SHA256), so one secret never keys two uses."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=purpose.encode()).derive(
        secret.encode("utf-8")
    )


def _kid(key: bytes) -> str:
    return b64url_encode(hmac.new(key, b"kid", hashlib.sha256).digest()[:6])


class JweCodec:
    """Encrypts with the first key, decrypts with any (secret rotation).

    Each key gets a ``kid`` in the protected header so decryption picks its key at once
    instead of trying them all.
    """

    __slots__ = ("_encrypt_header", "_encrypt_key", "_keys_by_header")

    def __init__(self, secrets: Sequence[str], purpose: str) -> None:
        self._keys_by_header: dict[str, AESGCM] = {}
        headers: list[str] = []
        for secret in secrets:
            key = derive_key(secret, purpose)
            header = b64url_encode(
                json.dumps({"alg": "dir", "enc": "A256GCM", "kid": _kid(key)}, separators=(",", ":")).encode()
            )
            self._keys_by_header.setdefault(header, AESGCM(key))
            headers.append(header)
        self._encrypt_header = headers[0]
        self._encrypt_key = self._keys_by_header[headers[0]]

    def encrypt(self, plaintext: bytes) -> str:
        iv = os.urandom(12)
        sealed = self._encrypt_key.encrypt(iv, plaintext, self._encrypt_header.encode("ascii"))
        return ".".join(
            (
                self._encrypt_header,
                "",
                b64url_encode(iv),
                b64url_encode(sealed[:-16]),
                b64url_encode(sealed[-16:]),
            )
        )

    def decrypt(self, token: str) -> bytes:
        parts = token.split(".")
        if len(parts) != 5 or parts[1]:
            raise InvalidToken("not a compact JWE with direct encryption")
        key = self._keys_by_header.get(parts[0])
        if key is None:
            raise InvalidToken("unknown key or header")
        iv = b64url_decode(parts[2])
        if len(iv) != 12:
            raise InvalidToken("bad IV")
        tag = b64url_decode(parts[4])
        if len(tag) != 16:
            raise InvalidToken("bad tag")
        try:
            return key.decrypt(iv, b64url_decode(parts[3]) + tag, parts[0].encode("ascii"))
        except InvalidTag as exc:
            raise InvalidToken("decryption failed") from exc


class Signer:
    """HMAC-SHA256 over short values (server-side session ids); first key signs."""

    __slots__ = ("_keys",)

    def __init__(self, secrets: Sequence[str], purpose: str) -> None:
        self._keys = [derive_key(secret, purpose) for secret in secrets]

    def _mac(self, key: bytes, value: str) -> str:
        return b64url_encode(hmac.new(key, value.encode("ascii"), hashlib.sha256).digest())

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(self._keys[0], value)}"

    def mac(self, value: str) -> str:
        """The MAC of ``value`` alone (a token bound to it that does not reveal it)."""
        return self._mac(self._keys[0], value)

    def verify(self, value: str, mac: str) -> bool:
        """Whether ``mac`` is ``value``'s under any of the keys (rotation)."""
        if not mac.isascii():
            return False
        return any(hmac.compare_digest(self._mac(key, value), mac) for key in self._keys)

    def unsign(self, signed: str) -> str:
        value, _, mac = signed.rpartition(".")
        if not value or not value.isascii() or not mac.isascii():
            raise InvalidToken("malformed signed value")
        for key in self._keys:
            if hmac.compare_digest(self._mac(key, value), mac):
                return value
        raise InvalidToken("bad signature")


def fingerprint(value: str) -> str:
    """A stable, non-reversible handle for a secret value (cache keys, store keys)."""
    # surrogatepass: a lone surrogate (from a JSON escape) must not raise here
    return b64url_encode(hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest())
