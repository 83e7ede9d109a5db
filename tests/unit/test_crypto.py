"""The JWE codec and HMAC signer behind cookies and store entries."""

from __future__ import annotations

import pytest
from joserfc import jwe
from joserfc.jwk import OctKey

from logto_asgi._crypto import InvalidToken, JweCodec, Signer, b64url_decode, derive_key

SECRET_A = "a" * 32
SECRET_B = "b" * 40


def test_round_trip() -> None:
    """What is encrypted decrypts to the same bytes."""
    codec = JweCodec([SECRET_A], "session cookie")
    assert codec.decrypt(codec.encrypt(b'{"hello":"world"}')) == b'{"hello":"world"}'


def test_output_is_standard_jwe_readable_by_joserfc() -> None:
    """Our compact JWE (dir + A256GCM) is plain RFC 7516: joserfc decrypts it."""
    codec = JweCodec([SECRET_A], "session cookie")
    token = codec.encrypt(b"payload")
    key = OctKey.import_key(derive_key(SECRET_A, "session cookie"))
    assert jwe.decrypt_compact(token, key, algorithms=["dir", "A256GCM"]).plaintext == b"payload"


def test_each_encryption_uses_a_fresh_iv() -> None:
    """Two encryptions of the same data differ (random IV)."""
    codec = JweCodec([SECRET_A], "x")
    assert codec.encrypt(b"same") != codec.encrypt(b"same")


def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    """With [new, old] secrets, old cookies decrypt and new ones use the new key."""
    old = JweCodec([SECRET_A], "session cookie")
    rotated = JweCodec([SECRET_B, SECRET_A], "session cookie")
    assert rotated.decrypt(old.encrypt(b"old")) == b"old"
    with pytest.raises(InvalidToken):
        old.decrypt(rotated.encrypt(b"new"))


def test_purposes_do_not_share_keys() -> None:
    """A value encrypted for one purpose does not decrypt for another."""
    a = JweCodec([SECRET_A], "session cookie")
    b = JweCodec([SECRET_A], "sign-in transaction")
    with pytest.raises(InvalidToken):
        b.decrypt(a.encrypt(b"x"))


@pytest.mark.parametrize("part", [0, 2, 3, 4])
def test_tampering_any_part_is_rejected(part: int) -> None:
    """Changing one character of header, IV, ciphertext or tag fails decryption."""
    codec = JweCodec([SECRET_A], "x")
    parts = codec.encrypt(b"some secret payload").split(".")
    target = parts[part]
    parts[part] = ("B" if target[0] != "B" else "C") + target[1:]
    with pytest.raises(InvalidToken):
        codec.decrypt(".".join(parts))


@pytest.mark.parametrize("value", ["", "....", "a.b.c.d.e", "x" * 100, "ünï.cödé....", "a..b.c.d"])
def test_garbage_is_rejected(value: str) -> None:
    """Malformed values raise InvalidToken, never another exception."""
    with pytest.raises(InvalidToken):
        JweCodec([SECRET_A], "x").decrypt(value)


def test_b64url_rejects_non_alphabet() -> None:
    """Characters outside base64url are refused."""
    with pytest.raises(InvalidToken):
        b64url_decode("ab+/")


def test_signer_round_trip_and_rotation() -> None:
    """Signed ids verify with any listed secret and fail when altered."""
    old = Signer([SECRET_A], "session id")
    new = Signer([SECRET_B, SECRET_A], "session id")
    signed = old.sign("abc123")
    assert new.unsign(signed) == "abc123"
    with pytest.raises(InvalidToken):
        new.unsign("abc124" + signed[6:])
    with pytest.raises(InvalidToken):
        old.unsign(new.sign("abc123"))
    with pytest.raises(InvalidToken):
        old.unsign("nodot")
