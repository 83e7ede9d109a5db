"""Edges of the JWE codec and the HMAC signer: parts that must be empty, MACs that must be whole."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from logto_asgi._crypto import InvalidToken, JweCodec, Signer, b64url_decode, b64url_encode

SECRET = "a" * 32


@pytest.mark.parametrize(
    "encrypted_key",
    [
        pytest.param("A", id="one-character"),
        pytest.param("AAAA", id="four-characters"),
        pytest.param(b64url_encode(b"\x00" * 32), id="a-32-byte-key"),
        pytest.param("!", id="not-base64url"),
    ],
)
def test_jwe_with_an_encrypted_key_is_refused(encrypted_key: str) -> None:
    """With dir encryption the second JWE part must be empty: anything there is InvalidToken."""
    codec = JweCodec([SECRET], "x")
    parts = codec.encrypt(b"payload").split(".")
    assert parts[1] == ""
    parts[1] = encrypted_key
    with pytest.raises(InvalidToken):
        codec.decrypt(".".join(parts))


def test_jwe_with_the_empty_encrypted_key_decrypts() -> None:
    """Control: the same token with its empty second part decrypts."""
    codec = JweCodec([SECRET], "x")
    assert codec.decrypt(codec.encrypt(b"payload")) == b"payload"


def signed_parts() -> tuple[Signer, str, str]:
    signer = Signer([SECRET], "session id")
    value, _, mac = signer.sign("abc123").rpartition(".")
    return signer, value, mac


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda mac: mac[:-1], id="last-character-dropped"),
        pytest.param(lambda mac: mac[: len(mac) // 2], id="half"),
        pytest.param(lambda mac: mac[:1], id="one-character"),
        pytest.param(lambda mac: "", id="empty"),
        pytest.param(lambda mac: mac + "A", id="one-character-added"),
        pytest.param(lambda mac: mac[1:], id="first-character-dropped"),
        pytest.param(lambda mac: mac + "=", id="padded"),
    ],
)
def test_unsign_refuses_an_altered_mac(change: Callable[[str], str]) -> None:
    """A truncated, empty, extended or padded MAC is InvalidToken (whole-MAC comparison only)."""
    signer, value, mac = signed_parts()
    altered = change(mac)
    assert altered != mac
    with pytest.raises(InvalidToken):
        signer.unsign(f"{value}.{altered}")


def test_unsign_accepts_the_whole_mac() -> None:
    """Control: the value with its complete MAC comes back."""
    signer, value, mac = signed_parts()
    assert signer.unsign(f"{value}.{mac}") == "abc123"


@pytest.mark.parametrize(
    "signed",
    [
        pytest.param("", id="empty"),
        pytest.param(".", id="only-a-dot"),
        pytest.param(".mac", id="no-value"),
        pytest.param("abc123", id="no-dot"),
        pytest.param("abc123.", id="empty-mac"),
        pytest.param("äbc.mac", id="non-ascii-value"),
        pytest.param("abc.mäc", id="non-ascii-mac"),
    ],
)
def test_unsign_refuses_malformed_values(signed: str) -> None:
    """Malformed signed values are InvalidToken, never another exception."""
    with pytest.raises(InvalidToken):
        Signer([SECRET], "session id").unsign(signed)


def test_unsign_refuses_another_values_mac() -> None:
    """A MAC is bound to its value: another value's MAC does not verify."""
    signer = Signer([SECRET], "session id")
    other_mac = signer.sign("abc124").rpartition(".")[2]
    with pytest.raises(InvalidToken):
        signer.unsign(f"abc123.{other_mac}")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("QQ==", id="padding"),
        pytest.param("QQ=", id="partial-padding"),
        pytest.param("Q", id="impossible-length"),
        pytest.param("ab+/", id="standard-alphabet"),
        pytest.param("ab cd", id="space"),
        pytest.param("abcd\n", id="newline"),
        pytest.param("äb", id="non-ascii"),
    ],
)
def test_b64url_decode_refuses_anything_but_unpadded_base64url(data: str) -> None:
    """Padding, the standard alphabet, whitespace and impossible lengths are InvalidToken."""
    with pytest.raises(InvalidToken):
        b64url_decode(data)


@pytest.mark.parametrize("raw", [b"", b"\x00", b"\xff\xfe", b"hello world", bytes(range(256))])
def test_b64url_round_trip(raw: bytes) -> None:
    """b64url_encode is unpadded base64url and b64url_decode reverses it."""
    encoded = b64url_encode(raw)
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert b64url_decode(encoded) == raw


@pytest.mark.parametrize("size", [0, 4, 8, 16], ids=lambda n: f"{n}-byte-iv")
def test_jwe_with_an_iv_of_another_size_is_invalid_token(size: int) -> None:
    """The IV must be 12 bytes; any other size is InvalidToken (never the cipher's ValueError)."""
    codec = JweCodec([SECRET], "x")
    parts = codec.encrypt(b"payload").split(".")
    parts[2] = b64url_encode(b"\x01" * size)
    with pytest.raises(InvalidToken):
        codec.decrypt(".".join(parts))
