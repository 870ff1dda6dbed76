"""The node's wallet keystore: one Ed25519 key in ``<data_dir>/wallet.json``.

File format (JSON, ``"version": 1``)::

    {"version": 1, "public_key": "<64 hex>", "encrypted": false, "seed": "<64 hex>"}

    {"version": 1, "public_key": "<64 hex>", "encrypted": true,
     "kdf": {"name": "scrypt", "salt": "<32 hex>", "n": 32768, "r": 8, "p": 1},
     "cipher": {"name": "aes-256-gcm", "nonce": "<24 hex>",
                "ciphertext": "<64 hex>", "tag": "<32 hex>"}}

The public key is always stored in clear so the node can show its address
without asking for the passphrase. When encrypted, the seed is sealed with
AES-256-GCM under a key derived by scrypt, and the public key (with a domain
tag) is the associated data: swapping in another wallet's public key makes
decryption fail instead of silently pairing a seed with the wrong address.

Passphrases are NFC-normalised before UTF-8 encoding, so the same text typed on
systems that compose accents differently unlocks the same wallet.

The file is created once and never overwritten: a node that loses its key
loses its coins, so replacing a wallet is left to a person, by hand.

Deriving the scrypt key takes a noticeable fraction of a second and tens of
MiB of memory by design. ``create_wallet`` and ``load_wallet`` with a
passphrase are blocking calls: async callers must run them off the event loop
(``asyncio.to_thread``, a Textual worker), never directly in a coroutine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from . import keys
from .errors import WalletError
from .keys import PrivateKey

if TYPE_CHECKING:
    from Crypto.Cipher._mode_gcm import GcmMode

WALLET_FILE = "wallet.json"
FORMAT_VERSION = 1

DEFAULT_SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
SEED_LEN = 32
KEY_LEN = 32  # AES-256

# A wallet file is a few hundred bytes; refusing anything much larger keeps a
# stray multi-gigabyte file from being read into memory.
MAX_FILE_SIZE = 64 * 1024

# Bounds on parameters read from a file, so a tampered file cannot make the
# node allocate gigabytes or spin for minutes before saying "wrong passphrase".
# scrypt needs about 128 * n * r bytes, and p times that much work; capping
# 128 * n * r * p caps both (1 GiB is several seconds of work).
MAX_SCRYPT_COST = 1 << 30
MAX_SCRYPT_P = 16

_AAD_TAG = b"tuichain-wallet-v1\x00"
_NO_WALLET_HINT = "create one with `tuichain wallet new`"


@dataclass(frozen=True)
class WalletInfo:
    """What can be known about a wallet without its passphrase."""

    path: Path
    public_key: bytes
    address_digest: bytes
    encrypted: bool

    def address(self, hrp: str) -> str:
        return keys.encode_address(hrp, self.address_digest)


def wallet_path(data_dir: Path) -> Path:
    return Path(data_dir) / WALLET_FILE


def wallet_exists(data_dir: Path) -> bool:
    """True when something occupies the wallet's name (even a broken file or symlink).

    Anything there makes ``create_wallet`` refuse, so callers that choose
    between "create" and "load" should load and report that error instead.
    """
    return os.path.lexists(wallet_path(data_dir))


def read_wallet_info(data_dir: Path) -> WalletInfo:
    """Read the public part of the wallet; checks the whole file's structure, decrypts nothing."""
    info, _ = _read(wallet_path(data_dir))
    return info


def load_wallet(data_dir: Path, passphrase: str | None = None) -> tuple[WalletInfo, PrivateKey]:
    """Load the wallet's key, decrypting it with ``passphrase`` if the file is encrypted.

    A passphrase given for an unencrypted wallet is ignored. Blocking (scrypt):
    run it off the event loop. Every failure is a ``WalletError``.
    """
    path = wallet_path(data_dir)
    info, doc = _read(path)
    if info.encrypted:
        if passphrase is None:
            raise WalletError("this wallet is encrypted: a passphrase is needed")
        seed = _decrypt(path, info.public_key, doc, passphrase)
    else:
        seed = _hex_field(path, doc, "seed", SEED_LEN)
    key = PrivateKey(seed)
    if key.public_key != info.public_key:
        raise WalletError(
            f"wallet file {path} is corrupt: its private key does not match its public key"
        )
    return info, key


def create_wallet(
    data_dir: Path,
    passphrase: str | None = None,
    *,
    key: PrivateKey | None = None,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> tuple[WalletInfo, PrivateKey]:
    """Write a new wallet (a fresh key unless ``key`` is given); never replaces an existing one.

    With a passphrase the seed is encrypted (scrypt + AES-256-GCM); ``None``
    stores it in clear, still readable only by the owner (mode 0600). An empty
    passphrase is refused rather than giving encryption that protects nothing.
    ``scrypt_n`` (a power of two) exists so tests can run fast; keep the
    default otherwise. Blocking (scrypt, fsync): run it off the event loop.

    Safe against concurrent creators: exactly one wins, the others get
    ``WalletError`` and the winner's file is untouched.
    """
    data_dir = Path(data_dir)
    path = wallet_path(data_dir)
    if passphrase == "":
        raise WalletError("the passphrase is empty: give a passphrase, or none for no encryption")
    if (
        not _is_int(scrypt_n)
        or scrypt_n < 2
        or scrypt_n & (scrypt_n - 1)
        or 128 * scrypt_n * SCRYPT_R * SCRYPT_P > MAX_SCRYPT_COST
    ):
        raise WalletError(
            f"scrypt n must be a power of two, at least 2, at most 2**20 (got {scrypt_n!r})"
        )
    _make_data_dir(data_dir)
    # An early answer spares the caller a useless scrypt run; the exclusive
    # link in _write_exclusive is what actually guarantees no overwrite.
    if wallet_exists(data_dir):
        raise _exists_error(path)

    if key is None:
        key = PrivateKey.generate()
    public_key = key.public_key
    doc: dict[str, Any] = {"version": FORMAT_VERSION, "public_key": public_key.hex()}
    if passphrase is None:
        doc["encrypted"] = False
        doc["seed"] = key.seed.hex()
    else:
        doc["encrypted"] = True
        doc.update(_encrypt(key.seed, public_key, passphrase, scrypt_n))
    data = (json.dumps(doc, indent=2) + "\n").encode()

    _write_exclusive(path, data)
    info = WalletInfo(
        path=path,
        public_key=public_key,
        address_digest=keys.address_digest(public_key),
        encrypted=passphrase is not None,
    )
    return info, key


# --- encryption ---------------------------------------------------------------


def _passphrase_bytes(passphrase: str) -> bytes:
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _aad(public_key: bytes) -> bytes:
    return _AAD_TAG + public_key


def _cipher(passphrase: str, public_key: bytes, salt: bytes, nonce: bytes,
            n: int, r: int, p: int) -> GcmMode:
    """AES-256-GCM under the passphrase's scrypt key, the public key as associated data."""
    # Imported here: a node whose wallet is not encrypted never loads pycryptodome.
    from Crypto.Cipher import AES
    from Crypto.Protocol.KDF import scrypt

    dk = scrypt(_passphrase_bytes(passphrase), salt, KEY_LEN, N=n, r=r, p=p)
    cipher = AES.new(dk, AES.MODE_GCM, nonce=nonce, mac_len=TAG_LEN)
    cipher.update(_aad(public_key))
    return cipher


def _encrypt(seed: bytes, public_key: bytes, passphrase: str, n: int) -> dict[str, Any]:
    salt = secrets.token_bytes(SALT_LEN)
    nonce = secrets.token_bytes(NONCE_LEN)
    cipher = _cipher(passphrase, public_key, salt, nonce, n, SCRYPT_R, SCRYPT_P)
    ciphertext, tag = cipher.encrypt_and_digest(seed)
    return {
        "kdf": {"name": "scrypt", "salt": salt.hex(), "n": n, "r": SCRYPT_R, "p": SCRYPT_P},
        "cipher": {
            "name": "aes-256-gcm",
            "nonce": nonce.hex(),
            "ciphertext": ciphertext.hex(),
            "tag": tag.hex(),
        },
    }


def _decrypt(path: Path, public_key: bytes, doc: dict[str, Any], passphrase: str) -> bytes:
    kdf = doc["kdf"]
    cip = doc["cipher"]
    salt = _hex_field(path, kdf, "salt", SALT_LEN, "kdf.")
    nonce = _hex_field(path, cip, "nonce", NONCE_LEN, "cipher.")
    ciphertext = _hex_field(path, cip, "ciphertext", SEED_LEN, "cipher.")
    tag = _hex_field(path, cip, "tag", TAG_LEN, "cipher.")
    cipher = _cipher(passphrase, public_key, salt, nonce, kdf["n"], kdf["r"], kdf["p"])
    try:
        return cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        # GCM cannot tell a wrong key from altered bytes; a wrong passphrase is
        # by far the likelier cause, and the only one a person can fix.
        raise WalletError("wrong passphrase") from None


# --- reading and checking the file ----------------------------------------------


def _corrupt(path: Path, what: str) -> WalletError:
    return WalletError(f"wallet file {path} is corrupt: {what}")


def _read(path: Path) -> tuple[WalletInfo, dict[str, Any]]:
    """Read and structurally check a wallet file; every failure becomes a WalletError."""
    try:
        with open(path, "rb") as f:
            _check_private(path, os.fstat(f.fileno()).st_mode)
            raw = f.read(MAX_FILE_SIZE + 1)
    except FileNotFoundError:
        raise WalletError(f"no wallet at {path}: {_NO_WALLET_HINT}") from None
    except OSError as exc:
        raise WalletError(f"cannot read wallet file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise _corrupt(path, f"larger than {MAX_FILE_SIZE} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _corrupt(path, "not valid JSON (truncated or damaged?)") from None
    if not isinstance(doc, dict):
        raise _corrupt(path, "not a JSON object")

    version = doc.get("version")
    if not _is_int(version):
        raise _corrupt(path, "missing or invalid 'version'")
    if version != FORMAT_VERSION:
        raise WalletError(
            f"wallet file {path} has format version {version}; "
            f"this tuichain reads version {FORMAT_VERSION}"
        )
    public_key = _hex_field(path, doc, "public_key", keys.PUBKEY_LEN)
    encrypted = doc.get("encrypted")
    if not isinstance(encrypted, bool):
        raise _corrupt(path, "missing or invalid 'encrypted' (true or false)")
    if encrypted:
        _check_encrypted(path, doc)
    else:
        _hex_field(path, doc, "seed", SEED_LEN)
    info = WalletInfo(
        path=path,
        public_key=public_key,
        address_digest=keys.address_digest(public_key),
        encrypted=encrypted,
    )
    return info, doc


def _check_private(path: Path, mode: int) -> None:
    """Refuse a key file other users may open, as ssh refuses such a private key.

    Whoever could read it may hold the key (encrypted, it is still open to
    guessing offline); a person must look and decide, so nothing here fixes the
    mode silently. Checked on the open file, so a swap after the check cannot
    slip past. Only where file modes mean something (POSIX).
    """
    if os.name != "posix" or not stat.S_ISREG(mode) or not mode & 0o077:
        return
    raise WalletError(
        f"wallet file {path} can be opened by other users (mode {stat.S_IMODE(mode):o}); "
        f"a key file must be private: run `chmod 600 {path}`"
    )


def _check_encrypted(path: Path, doc: dict[str, Any]) -> None:
    kdf = doc.get("kdf")
    cip = doc.get("cipher")
    if not isinstance(kdf, dict) or not isinstance(cip, dict):
        raise _corrupt(path, "an encrypted wallet needs 'kdf' and 'cipher' objects")
    if kdf.get("name") != "scrypt":
        raise _corrupt(path, f"unsupported key derivation {kdf.get('name')!r}")
    if cip.get("name") != "aes-256-gcm":
        raise _corrupt(path, f"unsupported cipher {cip.get('name')!r}")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not (_is_int(n) and _is_int(r) and _is_int(p)):
        raise _corrupt(path, "scrypt parameters n, r, p must be integers")
    if n < 2 or n & (n - 1) or r < 1 or not 1 <= p <= MAX_SCRYPT_P:
        raise _corrupt(path, f"invalid scrypt parameters n={n}, r={r}, p={p}")
    if 128 * n * r * p > MAX_SCRYPT_COST:
        raise _corrupt(path, f"scrypt parameters n={n}, r={r}, p={p} are beyond what we accept")
    _hex_field(path, kdf, "salt", SALT_LEN, "kdf.")
    _hex_field(path, cip, "nonce", NONCE_LEN, "cipher.")
    _hex_field(path, cip, "ciphertext", SEED_LEN, "cipher.")
    _hex_field(path, cip, "tag", TAG_LEN, "cipher.")


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; `"n": true` is damage, not the number 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _hex_field(path: Path, obj: dict[str, Any], name: str, length: int, prefix: str = "") -> bytes:
    value = obj.get(name)
    # bytes.fromhex tolerates spaces, so check the characters ourselves: the
    # file is written by us, anything else is damage.
    if (
        not isinstance(value, str)
        or len(value) != 2 * length
        or not all(c in string.hexdigits for c in value)
    ):
        raise _corrupt(path, f"'{prefix}{name}' must be {length} bytes of hex")
    return bytes.fromhex(value)


# --- writing ------------------------------------------------------------------


def _exists_error(path: Path) -> WalletError:
    return WalletError(f"a wallet already exists at {path}; it was left untouched")


def _make_data_dir(data_dir: Path) -> None:
    if data_dir.is_dir():
        return
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise WalletError(
            f"cannot create data directory {data_dir}: {exc.strerror or exc}"
        ) from None
    _fsync_dir(data_dir.parent)


def _write_exclusive(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` with mode 0600, failing if anything is already there.

    The bytes go to a private temporary file first and are fsynced, then
    hard-linked to the final name: link(2) refuses an existing target
    atomically, so concurrent creators cannot overwrite each other, and a
    crash leaves either no wallet or a complete one, never half a file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    try:
        try:
            _write_new_file(tmp, data)
        except OSError as exc:
            raise WalletError(f"cannot write wallet file {path}: {exc.strerror or exc}") from None
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise _exists_error(path) from None
        except OSError:
            # Some filesystems (FAT, some network or FUSE mounts) have no hard
            # links; O_EXCL on the final name is still race-free, only not
            # crash-atomic.
            _write_fallback(path, data)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _fsync_dir(path.parent)


def _write_fallback(path: Path, data: bytes) -> None:
    try:
        _write_new_file(path, data)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError as exc:
        raise WalletError(f"cannot write wallet file {path}: {exc.strerror or exc}") from None


def _write_new_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        # The umask can only remove bits from 0600, but a umask like 0o277
        # would leave the owner unable to read the file back; set it outright.
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        # O_EXCL succeeded, so this half-written file is ours alone to remove;
        # left behind it would block every later create.
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; platforms that cannot open a
    # directory (Windows) have nothing to sync this way.
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
