"""Wallet keystore: create/load round trips, passphrases, files and permissions."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from tuichain.core import wallet
from tuichain.core.errors import WalletError
from tuichain.core.keys import address_digest, decode_address, encode_address
from tuichain.core.wallet import (
    WALLET_FILE,
    WalletInfo,
    create_wallet,
    load_wallet,
    read_wallet_info,
    wallet_exists,
    wallet_path,
)

from .walletfixtures import FAST_N, key_of, mode_of, stray_files

HRP = "tc"


# --- round trips ---------------------------------------------------------------


def test_create_then_load_round_trips_plain(data_dir: Path) -> None:
    info, key = create_wallet(data_dir)
    loaded_info, loaded = load_wallet(data_dir)

    assert loaded.seed == key.seed
    assert loaded.public_key == key.public_key == info.public_key
    assert loaded_info == info
    assert info.path == data_dir / WALLET_FILE == wallet_path(data_dir)
    assert info.encrypted is False
    assert info.address_digest == address_digest(key.public_key)


def test_create_with_given_key_stores_that_key(data_dir: Path) -> None:
    _, key = create_wallet(data_dir, key=key_of(7))
    assert key == key_of(7)
    assert load_wallet(data_dir)[1].seed == key_of(7).seed
    doc = json.loads(wallet_path(data_dir).read_text())
    assert doc == {
        "version": 1,
        "public_key": key_of(7).public_key.hex(),
        "encrypted": False,
        "seed": key_of(7).seed.hex(),
    }


def test_fresh_wallets_get_different_keys(tmp_path: Path) -> None:
    _, a = create_wallet(tmp_path / "a")
    _, b = create_wallet(tmp_path / "b")
    assert a.seed != b.seed


def test_address_is_checksummed_form_of_digest(data_dir: Path) -> None:
    info, key = create_wallet(data_dir, key=key_of(3))
    addr = info.address(HRP)
    assert addr == encode_address(HRP, key.address_digest)
    assert decode_address(HRP, addr) == key.address_digest


def test_encrypted_round_trip(data_dir: Path) -> None:
    info, key = create_wallet(data_dir, "correct horse", key=key_of(9), scrypt_n=FAST_N)
    assert info.encrypted is True

    loaded_info, loaded = load_wallet(data_dir, "correct horse")
    assert loaded.seed == key.seed
    assert loaded_info == info

    text = wallet_path(data_dir).read_text()
    assert key.seed.hex() not in text
    doc = json.loads(text)
    assert "seed" not in doc
    assert doc["kdf"]["name"] == "scrypt"
    assert (doc["kdf"]["n"], doc["kdf"]["r"], doc["kdf"]["p"]) == (FAST_N, 8, 1)
    assert len(bytes.fromhex(doc["kdf"]["salt"])) == 16
    assert doc["cipher"]["name"] == "aes-256-gcm"
    assert len(bytes.fromhex(doc["cipher"]["nonce"])) == 12


def test_default_scrypt_cost_is_stored_and_used(data_dir: Path) -> None:
    create_wallet(data_dir, "pw", key=key_of(1))
    doc = json.loads(wallet_path(data_dir).read_text())
    assert doc["kdf"]["n"] == wallet.DEFAULT_SCRYPT_N >= 2**15
    assert load_wallet(data_dir, "pw")[1].seed == key_of(1).seed


def test_same_key_and_passphrase_encrypt_differently(tmp_path: Path) -> None:
    create_wallet(tmp_path / "a", "pw", key=key_of(1), scrypt_n=FAST_N)
    create_wallet(tmp_path / "b", "pw", key=key_of(1), scrypt_n=FAST_N)
    a = json.loads(wallet_path(tmp_path / "a").read_text())
    b = json.loads(wallet_path(tmp_path / "b").read_text())
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert a["cipher"]["ciphertext"] != b["cipher"]["ciphertext"]


def test_unicode_passphrase(data_dir: Path) -> None:
    passphrase = "Grüße, 世界! 🔑 ñ"
    create_wallet(data_dir, passphrase, key=key_of(4), scrypt_n=FAST_N)
    assert load_wallet(data_dir, passphrase)[1].seed == key_of(4).seed
    with pytest.raises(WalletError, match="wrong passphrase"):
        load_wallet(data_dir, "Grüsse, 世界! 🔑 ñ")


def test_passphrase_is_unicode_normalised(data_dir: Path) -> None:
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    create_wallet(data_dir, composed, key=key_of(5), scrypt_n=FAST_N)
    assert load_wallet(data_dir, decomposed)[1].seed == key_of(5).seed


def test_read_wallet_info_needs_no_passphrase(data_dir: Path) -> None:
    info, key = create_wallet(data_dir, "secret", key=key_of(6), scrypt_n=FAST_N)
    read = read_wallet_info(data_dir)
    assert read == info
    assert read.encrypted is True
    assert read.public_key == key.public_key
    assert read.address(HRP) == encode_address(HRP, key.address_digest)
    assert isinstance(read, WalletInfo)


def test_passphrase_for_unencrypted_wallet_still_loads(data_dir: Path) -> None:
    create_wallet(data_dir, key=key_of(2))
    assert load_wallet(data_dir, "anything")[1].seed == key_of(2).seed


def test_empty_passphrase_refused_on_create(data_dir: Path) -> None:
    with pytest.raises(WalletError, match="empty"):
        create_wallet(data_dir, "")
    assert not wallet_exists(data_dir)


@pytest.mark.parametrize("n", [0, 1, 3, 1000, 2**21, True])
def test_bad_scrypt_n_refused_on_create(data_dir: Path, n: int) -> None:
    with pytest.raises(WalletError, match="scrypt n"):
        create_wallet(data_dir, "pw", scrypt_n=n)
    assert not wallet_exists(data_dir)


# --- passphrase errors ------------------------------------------------------------


def test_wrong_passphrase(data_dir: Path) -> None:
    create_wallet(data_dir, "right", scrypt_n=FAST_N)
    with pytest.raises(WalletError) as excinfo:
        load_wallet(data_dir, "wrong")
    assert excinfo.value.reason == "wrong passphrase"
    assert excinfo.value.code == "wallet"


def test_missing_passphrase(data_dir: Path) -> None:
    create_wallet(data_dir, "right", scrypt_n=FAST_N)
    with pytest.raises(WalletError) as excinfo:
        load_wallet(data_dir)
    assert excinfo.value.reason == "this wallet is encrypted: a passphrase is needed"


def test_empty_passphrase_on_encrypted_wallet_is_wrong(data_dir: Path) -> None:
    create_wallet(data_dir, "right", scrypt_n=FAST_N)
    with pytest.raises(WalletError, match="wrong passphrase"):
        load_wallet(data_dir, "")


# --- files and permissions ---------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o000, 0o077, 0o277])
def test_file_mode_is_0600_whatever_the_umask(
    data_dir: Path, umask: Callable[[int], None], mask: int
) -> None:
    umask(mask)
    create_wallet(data_dir, key=key_of(1))
    assert mode_of(wallet_path(data_dir)) == 0o600
    assert load_wallet(data_dir)[1].seed == key_of(1).seed


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_encrypted_file_mode_is_0600(
    data_dir: Path, umask: Callable[[int], None], mask: int
) -> None:
    umask(mask)
    create_wallet(data_dir, "pw", scrypt_n=FAST_N)
    assert mode_of(wallet_path(data_dir)) == 0o600


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_missing_data_dir_created_owner_only(
    tmp_path: Path, umask: Callable[[int], None], mask: int
) -> None:
    umask(mask)
    data_dir = tmp_path / "deep" / "node"
    create_wallet(data_dir)
    assert data_dir.is_dir()
    assert mode_of(data_dir) == 0o700


def test_existing_data_dir_mode_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    create_wallet(tmp_path)
    assert mode_of(tmp_path) == 0o755
    assert stray_files(tmp_path) == []


def test_data_dir_that_is_a_file_gives_wallet_error(tmp_path: Path) -> None:
    blocker = tmp_path / "node"
    blocker.write_text("not a directory")
    with pytest.raises(WalletError, match="cannot create data directory"):
        create_wallet(blocker)


def test_loose_permissions_are_refused_and_load_once_private(data_dir: Path) -> None:
    # Reversed by issue 9: a key others can read is refused (test_wallet_damage has the modes).
    create_wallet(data_dir, key=key_of(8))
    wallet_path(data_dir).chmod(0o644)
    with pytest.raises(WalletError, match="chmod 600"):
        load_wallet(data_dir)
    wallet_path(data_dir).chmod(0o600)
    assert load_wallet(data_dir)[1].seed == key_of(8).seed


def test_wallet_exists(data_dir: Path) -> None:
    assert not wallet_exists(data_dir)
    create_wallet(data_dir)
    assert wallet_exists(data_dir)


def test_no_temp_files_left_after_create(data_dir: Path) -> None:
    create_wallet(data_dir, "pw", scrypt_n=FAST_N)
    assert stray_files(data_dir) == []
