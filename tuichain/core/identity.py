"""The node's own identity key: Ed25519, kept in `node.key` (mode 0600) in the data directory.

Peers know a node by its node id, the hash of this key's public half, and the
handshake makes each side sign the other's fresh challenge, so an id cannot be
claimed without the key. Losing the file only costs the node its name (peers
forget bans and address-book entries tied to the old id); it holds no coins.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import CoreError
from .keys import PUBKEY_LEN, PrivateKey, verify

KEY_FILE = "node.key"
NODE_ID_BYTES = 16  # 128 bits: finding a second key for someone's id is out of reach


class IdentityError(CoreError):
    """The key file is there but cannot be used; the reason names it and the way out."""


def node_id_of(public_key: bytes) -> str:
    """The node id a public key stands for (32 hex digits)."""
    if len(public_key) != PUBKEY_LEN:
        raise ValueError("an Ed25519 public key is 32 bytes")
    digest = hashlib.blake2b(public_key, digest_size=NODE_ID_BYTES, person=b"tuichain-node")
    return digest.hexdigest()


@dataclass(frozen=True)
class NodeIdentity:
    key: PrivateKey
    public_key: bytes
    node_id: str

    @classmethod
    def of(cls, key: PrivateKey) -> NodeIdentity:
        public = key.public_key
        return cls(key, public, node_id_of(public))

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def proves(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return verify(public_key, message, signature)


def load_or_create(data_dir: Path) -> NodeIdentity:
    """The identity in `data_dir`, created on first start (blocking: run it in a thread).

    A damaged key file is refused rather than replaced: a silent new identity
    would look to every peer like a different node.
    """
    path = data_dir / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _create(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError(f"cannot read the node key {path}: {exc}") from None
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise IdentityError(
            f"the node key {path} is readable by other users; run: chmod 600 {path}"
        )
    try:
        seed = bytes.fromhex(text)
        return NodeIdentity.of(PrivateKey(seed))
    except ValueError:
        raise IdentityError(
            f"the node key {path} is damaged; move it aside to give this node a new identity"
        ) from None


def _create(path: Path) -> NodeIdentity:
    identity = NodeIdentity.of(PrivateKey.generate())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # left by a start killed halfway
    # Created 0600 from the start, written in full, then renamed: never a partial key.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(identity.key.seed.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return identity
