"""The checkpoint signing key (Ed25519) and the public keys checkpoints are checked with.

The private key lives only in the file ``HUB_SIGNING_KEY_FILE`` names (PKCS8 PEM;
``hub.config`` generates one under ``var/`` outside production and refuses to start
production without one, or with one other users can read). It is never written to
the database, logged or shown. Its public key, and the older public keys listed in
``HUB_SIGNING_PUBLIC_KEYS`` (a rotation keeps the old ones there), are known by
their key id (``hub.record.canonical.key_id``): every checkpoint names the key that
signed it, and a checkpoint naming an unknown key does not verify.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from hub.record.canonical import key_id


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@lru_cache(maxsize=4)
def _load_private(path: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"HUB_SIGNING_KEY_FILE {path} is not an Ed25519 key")
    return key


@lru_cache(maxsize=16)
def _load_public(path: str) -> bytes:
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:  # a private key file is accepted too: its public half is used
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ImproperlyConfigured(f"{path} is not an Ed25519 key") from None
        return raw_public(private.public_key())
    if not isinstance(key, Ed25519PublicKey):
        raise ImproperlyConfigured(f"HUB_SIGNING_PUBLIC_KEYS: {path} is not an Ed25519 key")
    return raw_public(key)


def signing_key() -> Ed25519PrivateKey:
    """The current private key (read once per process per path)."""
    return _load_private(str(settings.HUB_SIGNING_KEY_FILE))


def current_key_id() -> str:
    return key_id(raw_public(signing_key().public_key()))


def public_keys() -> dict[str, bytes]:
    """Every known public key by key id: the listed old ones and the current one."""
    keys: dict[str, bytes] = {}
    for path in settings.HUB_SIGNING_PUBLIC_KEYS:
        raw = _load_public(str(path))
        keys[key_id(raw)] = raw
    current = raw_public(signing_key().public_key())
    keys[key_id(current)] = current
    return keys


def sign(body: bytes) -> bytes:
    return signing_key().sign(body)


def signature_valid(raw_public_key: bytes, signature: bytes, body: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(raw_public_key).verify(signature, body)
    except (InvalidSignature, ValueError):
        return False
    return True
