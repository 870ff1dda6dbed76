"""Ed25519 keys and checksummed per-network addresses.

Keys are made, used for signing and checked with libsodium through PyNaCl, under
the acceptance rule written down in docs/architecture.md. Ed25519 signing is
deterministic (RFC 8032), so any correct signer gives the same bytes; pycryptodome
is left to encrypt the wallet file, where a node that never opens an encrypted
wallet does not load it (its import parses C declarations: 0.1 s a process).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError

from . import bech32
from .errors import AddressError

ADDRESS_LEN = 20
PUBKEY_LEN = 32
SIGNATURE_LEN = 64


def address_digest(public_key: bytes) -> bytes:
    """The 20-byte account id of a public key."""
    return hashlib.blake2b(public_key, digest_size=ADDRESS_LEN, person=b"tuichain-addr").digest()


def encode_address(hrp: str, digest: bytes) -> str:
    return bech32.encode(hrp, digest)


def decode_address(hrp: str, text: str) -> bytes:
    """Parse an address typed by a person; AddressError says what is wrong."""
    text = text.strip()
    if not text:
        raise AddressError("empty address")
    try:
        got_hrp, payload = bech32.decode(text)
    except ValueError as exc:
        raise AddressError(f"not a valid address: {exc}") from None
    if got_hrp != hrp:
        raise AddressError(f"address is for network prefix {got_hrp!r}, expected {hrp!r}")
    if len(payload) != ADDRESS_LEN:
        raise AddressError(f"address payload is {len(payload)} bytes, expected {ADDRESS_LEN}")
    return payload


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """The consensus acceptance rule for Ed25519 signatures; anything malformed is False.

    libsodium's verifier is the rule: a canonical public key of large order, a
    canonical S below the group order, an R that is not of small order, and the
    cofactorless equation checked by comparing R's encoding byte for byte.
    """
    if len(public_key) != PUBKEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except BadSignatureError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An Ed25519 key pair held as its 32-byte seed."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")

    @classmethod
    def generate(cls) -> PrivateKey:
        # An Ed25519 private key is any 32 random bytes (RFC 8032 5.1.5).
        return cls(os.urandom(32))

    @property
    def public_key(self) -> bytes:
        return bytes(crypto_sign_seed_keypair(self.seed)[0])

    @property
    def address_digest(self) -> bytes:
        return address_digest(self.public_key)

    def sign(self, message: bytes) -> bytes:
        # libsodium's secret key is the seed followed by the public key; its signed
        # message is the signature followed by the message.
        secret = crypto_sign_seed_keypair(self.seed)[1]
        return bytes(crypto_sign(message, secret)[:SIGNATURE_LEN])

    def __repr__(self) -> str:  # never print the seed by accident
        return "PrivateKey(<hidden>)"
