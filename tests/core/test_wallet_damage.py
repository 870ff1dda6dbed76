"""Wallet keystore: missing, damaged and tampered files, out-of-range KDF settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tuichain.core import wallet
from tuichain.core.errors import WalletError
from tuichain.core.wallet import create_wallet, load_wallet, read_wallet_info, wallet_path

from .walletfixtures import FAST_N, key_of

# --- missing and damaged files -----------------------------------------------------


def test_missing_wallet_says_how_to_create_one(data_dir: Path) -> None:
    with pytest.raises(WalletError, match="no wallet at .*tuichain wallet new"):
        load_wallet(data_dir)
    with pytest.raises(WalletError, match="tuichain wallet new"):
        read_wallet_info(data_dir)


def test_wallet_path_is_a_directory(data_dir: Path) -> None:
    wallet_path(data_dir).mkdir(parents=True)
    with pytest.raises(WalletError, match="cannot read wallet file"):
        load_wallet(data_dir)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606, 0o666])
def test_a_wallet_file_others_can_open_is_refused_like_an_ssh_key(
    data_dir: Path, mode: int
) -> None:
    create_wallet(data_dir, None)
    path = wallet_path(data_dir)
    path.chmod(mode)
    for read in (read_wallet_info, load_wallet):
        with pytest.raises(WalletError) as refused:
            read(data_dir)
        assert f"run `chmod 600 {path}`" in refused.value.reason
        assert f"{mode:o}" in refused.value.reason
    path.chmod(0o600)
    load_wallet(data_dir)
    path.chmod(0o400)  # owner read-only is private enough
    load_wallet(data_dir)


def _plain_doc() -> dict[str, Any]:
    key = key_of(1)
    return {
        "version": 1,
        "public_key": key.public_key.hex(),
        "encrypted": False,
        "seed": key.seed.hex(),
    }


def _encrypted_doc() -> dict[str, Any]:
    key = key_of(1)
    doc: dict[str, Any] = {"version": 1, "public_key": key.public_key.hex(), "encrypted": True}
    doc.update(wallet._encrypt(key.seed, key.public_key, "pw", FAST_N))
    return doc


def _write(data_dir: Path, content: bytes | str | object) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        wallet_path(data_dir).write_bytes(content)
    elif isinstance(content, str):
        wallet_path(data_dir).write_text(content)
    else:
        wallet_path(data_dir).write_text(json.dumps(content))
    # Private, as the node writes it: these tests are about the content.
    wallet_path(data_dir).chmod(0o600)


def _edited(base: Callable[[], dict[str, Any]], path: str, value: Any) -> dict[str, Any]:
    doc = base()
    *parents, last = path.split(".")
    target = doc
    for name in parents:
        target = target[name]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


_DELETE = object()

PLAIN_DAMAGE: dict[str, Any] = {
    "empty file": b"",
    "truncated json": json.dumps(_plain_doc())[:40],
    "not utf-8": b"\xff\xfe{\x00",
    "json list": [1, 2, 3],
    "json string": "wallet",
    "json null": None,
    "no version": _edited(_plain_doc, "version", _DELETE),
    "version as string": _edited(_plain_doc, "version", "1"),
    "version as bool": _edited(_plain_doc, "version", True),
    "future version": _edited(_plain_doc, "version", 2),
    "no public key": _edited(_plain_doc, "public_key", _DELETE),
    "public key as int": _edited(_plain_doc, "public_key", 12345),
    "public key short": _edited(_plain_doc, "public_key", "ab" * 31),
    "public key not hex": _edited(_plain_doc, "public_key", "zz" * 32),
    "no encrypted flag": _edited(_plain_doc, "encrypted", _DELETE),
    "encrypted as string": _edited(_plain_doc, "encrypted", "false"),
    "encrypted as int": _edited(_plain_doc, "encrypted", 0),
    "no seed": _edited(_plain_doc, "seed", _DELETE),
    "seed as list": _edited(_plain_doc, "seed", list(range(32))),
    "seed too long": _edited(_plain_doc, "seed", "00" * 33),
    "seed with spaces": _edited(_plain_doc, "seed", " ".join(["0000"] * 16)[:64]),
    "encrypted without kdf": _edited(_plain_doc, "encrypted", True),
}

ENCRYPTED_DAMAGE: dict[str, Any] = {
    "kdf as string": _edited(_encrypted_doc, "kdf", "scrypt"),
    "no cipher": _edited(_encrypted_doc, "cipher", _DELETE),
    "unknown kdf": _edited(_encrypted_doc, "kdf.name", "pbkdf2"),
    "unknown cipher": _edited(_encrypted_doc, "cipher.name", "aes-128-cbc"),
    "n not power of two": _edited(_encrypted_doc, "kdf.n", 1000),
    "n as bool": _edited(_encrypted_doc, "kdf.n", True),
    "n as float": _edited(_encrypted_doc, "kdf.n", 16.0),
    "n as string": _edited(_encrypted_doc, "kdf.n", "16"),
    "huge n": _edited(_encrypted_doc, "kdf.n", 2**40),
    "r zero": _edited(_encrypted_doc, "kdf.r", 0),
    "p zero": _edited(_encrypted_doc, "kdf.p", 0),
    "huge p": _edited(_encrypted_doc, "kdf.p", 10**6),
    "salt missing": _edited(_encrypted_doc, "kdf.salt", _DELETE),
    "nonce short": _edited(_encrypted_doc, "cipher.nonce", "00" * 8),
    "ciphertext short": _edited(_encrypted_doc, "cipher.ciphertext", "00" * 31),
    "tag as int": _edited(_encrypted_doc, "cipher.tag", 0),
}


@pytest.mark.parametrize("content", PLAIN_DAMAGE.values(), ids=PLAIN_DAMAGE.keys())
def test_damaged_plain_file_gives_wallet_error(data_dir: Path, content: Any) -> None:
    _write(data_dir, content)
    with pytest.raises(WalletError) as excinfo:
        load_wallet(data_dir)
    assert str(wallet_path(data_dir)) in excinfo.value.reason
    with pytest.raises(WalletError):
        read_wallet_info(data_dir)


@pytest.mark.parametrize("content", ENCRYPTED_DAMAGE.values(), ids=ENCRYPTED_DAMAGE.keys())
def test_damaged_encrypted_file_gives_wallet_error(data_dir: Path, content: Any) -> None:
    _write(data_dir, content)
    with pytest.raises(WalletError, match="corrupt"):
        load_wallet(data_dir, "pw")
    with pytest.raises(WalletError, match="corrupt"):
        read_wallet_info(data_dir)


def test_damage_fixtures_are_otherwise_valid(data_dir: Path, tmp_path: Path) -> None:
    # Guards the two tests above: the undamaged documents do load.
    _write(data_dir, _plain_doc())
    assert load_wallet(data_dir)[1].seed == key_of(1).seed
    other = tmp_path / "other"
    _write(other, _encrypted_doc())
    assert load_wallet(other, "pw")[1].seed == key_of(1).seed


def test_oversized_file_gives_wallet_error(data_dir: Path) -> None:
    doc = _plain_doc()
    doc["padding"] = "x" * (wallet.MAX_FILE_SIZE + 1)
    _write(data_dir, doc)
    with pytest.raises(WalletError, match="larger than"):
        load_wallet(data_dir)


def test_deeply_nested_json_gives_wallet_error(data_dir: Path) -> None:
    _write(data_dir, "[" * 20_000 + "]" * 20_000)
    with pytest.raises(WalletError, match="corrupt"):
        load_wallet(data_dir)


def _flip_hex(text: str, index: int = 0) -> str:
    digit = "1" if text[index] == "0" else "0"
    return text[:index] + digit + text[index + 1 :]


@pytest.mark.parametrize(
    "field",
    ["cipher.ciphertext", "cipher.tag", "cipher.nonce", "kdf.salt"],
)
def test_altered_encrypted_bytes_are_refused(data_dir: Path, field: str) -> None:
    create_wallet(data_dir, "pw", key=key_of(1), scrypt_n=FAST_N)
    doc = json.loads(wallet_path(data_dir).read_text())
    section, name = field.split(".")
    doc[section][name] = _flip_hex(doc[section][name], 5)
    wallet_path(data_dir).write_text(json.dumps(doc))
    with pytest.raises(WalletError, match="wrong passphrase"):
        load_wallet(data_dir, "pw")


def test_altered_scrypt_cost_is_refused(data_dir: Path) -> None:
    create_wallet(data_dir, "pw", scrypt_n=FAST_N)
    doc = json.loads(wallet_path(data_dir).read_text())
    doc["kdf"]["n"] = FAST_N * 2
    wallet_path(data_dir).write_text(json.dumps(doc))
    with pytest.raises(WalletError, match="wrong passphrase"):
        load_wallet(data_dir, "pw")


def test_swapped_public_key_on_encrypted_wallet_is_refused(data_dir: Path) -> None:
    # The public key is authenticated data, so pairing the sealed seed with
    # another key's address fails decryption instead of showing a wrong address.
    create_wallet(data_dir, "pw", key=key_of(1), scrypt_n=FAST_N)
    doc = json.loads(wallet_path(data_dir).read_text())
    doc["public_key"] = key_of(2).public_key.hex()
    wallet_path(data_dir).write_text(json.dumps(doc))
    with pytest.raises(WalletError, match="wrong passphrase"):
        load_wallet(data_dir, "pw")


def test_plain_seed_not_matching_public_key(data_dir: Path) -> None:
    doc = _plain_doc()
    doc["seed"] = key_of(2).seed.hex()
    _write(data_dir, doc)
    with pytest.raises(WalletError, match="does not match its public key"):
        load_wallet(data_dir)


def test_encrypted_seed_not_matching_public_key(data_dir: Path) -> None:
    # Sealed correctly (so decryption succeeds) but for the wrong public key.
    public_key = key_of(2).public_key
    doc: dict[str, Any] = {"version": 1, "public_key": public_key.hex(), "encrypted": True}
    doc.update(wallet._encrypt(key_of(1).seed, public_key, "pw", FAST_N))
    _write(data_dir, doc)
    with pytest.raises(WalletError, match="does not match its public key"):
        load_wallet(data_dir, "pw")
