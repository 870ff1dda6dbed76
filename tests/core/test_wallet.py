"""Wallet keystore: real files in tmp_path, permissions, encryption, damage, races."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import stat
import threading
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tuichain.core import wallet
from tuichain.core.errors import WalletError
from tuichain.core.keys import PrivateKey, address_digest, decode_address, encode_address
from tuichain.core.wallet import (
    WALLET_FILE,
    WalletInfo,
    create_wallet,
    load_wallet,
    read_wallet_info,
    wallet_exists,
    wallet_path,
)

# Tiny scrypt cost so the suite stays fast; one test checks the real default.
FAST_N = 2**4
HRP = "tc"


def key_of(i: int) -> PrivateKey:
    return PrivateKey(bytes([i]) * 32)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stray_files(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.name != WALLET_FILE)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "node-5000"


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(old)


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


def test_loose_permissions_still_load(data_dir: Path) -> None:
    create_wallet(data_dir, key=key_of(8))
    wallet_path(data_dir).chmod(0o644)
    assert load_wallet(data_dir)[1].seed == key_of(8).seed


def test_wallet_exists(data_dir: Path) -> None:
    assert not wallet_exists(data_dir)
    create_wallet(data_dir)
    assert wallet_exists(data_dir)


def test_no_temp_files_left_after_create(data_dir: Path) -> None:
    create_wallet(data_dir, "pw", scrypt_n=FAST_N)
    assert stray_files(data_dir) == []


# --- never overwrite ---------------------------------------------------------------


@pytest.mark.parametrize("second_passphrase", [None, "pw"])
def test_second_create_refuses_and_keeps_file(
    data_dir: Path, second_passphrase: str | None
) -> None:
    create_wallet(data_dir, key=key_of(1))
    before = wallet_path(data_dir).read_bytes()

    with pytest.raises(WalletError, match="a wallet already exists at"):
        create_wallet(data_dir, second_passphrase, key=key_of(2), scrypt_n=FAST_N)

    assert wallet_path(data_dir).read_bytes() == before
    assert load_wallet(data_dir)[1].seed == key_of(1).seed
    assert stray_files(data_dir) == []


def test_no_overwrite_even_when_precheck_misses(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulates losing the race right after the existence check: only the
    # exclusive link may stop the write.
    create_wallet(data_dir, key=key_of(1))
    before = wallet_path(data_dir).read_bytes()
    monkeypatch.setattr(wallet, "wallet_exists", lambda _d: False)

    with pytest.raises(WalletError, match="a wallet already exists at"):
        create_wallet(data_dir, key=key_of(2))

    assert wallet_path(data_dir).read_bytes() == before
    assert stray_files(data_dir) == []


def test_create_refuses_a_dangling_symlink(data_dir: Path) -> None:
    data_dir.mkdir()
    wallet_path(data_dir).symlink_to(data_dir / "elsewhere.json")
    with pytest.raises(WalletError, match="already exists"):
        create_wallet(data_dir)
    assert not (data_dir / "elsewhere.json").exists()


def _no_hard_links(src: object, dst: object) -> None:
    raise PermissionError(errno.EPERM, "Operation not permitted")


def test_without_hard_links_create_still_works(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, umask: Callable[[int], None]
) -> None:
    umask(0o000)
    monkeypatch.setattr(wallet.os, "link", _no_hard_links)
    create_wallet(data_dir, "pw", key=key_of(3), scrypt_n=FAST_N)
    assert mode_of(wallet_path(data_dir)) == 0o600
    assert stray_files(data_dir) == []
    assert load_wallet(data_dir, "pw")[1].seed == key_of(3).seed


def test_without_hard_links_create_still_never_overwrites(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_wallet(data_dir, key=key_of(1))
    before = wallet_path(data_dir).read_bytes()
    monkeypatch.setattr(wallet.os, "link", _no_hard_links)
    monkeypatch.setattr(wallet, "wallet_exists", lambda _d: False)

    with pytest.raises(WalletError, match="a wallet already exists at"):
        create_wallet(data_dir, key=key_of(2))

    assert wallet_path(data_dir).read_bytes() == before
    assert stray_files(data_dir) == []


# --- concurrent creators ----------------------------------------------------------

CREATORS = 8


@pytest.mark.parametrize("skip_precheck", [False, True])
def test_concurrent_thread_creators_exactly_one_wins(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, skip_precheck: bool
) -> None:
    if skip_precheck:
        # Every creator gets past the cheap check and races on the final write.
        monkeypatch.setattr(wallet, "wallet_exists", lambda _d: False)
    barrier = threading.Barrier(CREATORS)
    winners: list[int] = []
    refused: list[int] = []
    other: list[BaseException] = []
    lock = threading.Lock()

    def creator(i: int) -> None:
        barrier.wait()
        try:
            create_wallet(data_dir, key=key_of(i + 1))
        except WalletError as exc:
            with lock:
                if "already exists" in exc.reason:
                    refused.append(i)
                else:
                    other.append(exc)
        except BaseException as exc:
            with lock:
                other.append(exc)
        else:
            with lock:
                winners.append(i)

    threads = [threading.Thread(target=creator, args=(i,)) for i in range(CREATORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert other == []
    assert len(winners) == 1
    assert len(refused) == CREATORS - 1
    assert load_wallet(data_dir)[1].seed == key_of(winners[0] + 1).seed
    assert stray_files(data_dir) == []


def _process_creator(data_dir: str, i: int, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        create_wallet(Path(data_dir), key=key_of(i + 1))
    except WalletError as exc:
        results.put((i, "refused" if "already exists" in exc.reason else repr(exc)))
    except BaseException as exc:
        results.put((i, repr(exc)))
    else:
        results.put((i, "won"))


@pytest.mark.slow
def test_concurrent_process_creators_exactly_one_wins(data_dir: Path) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs the fork start method")
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(CREATORS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_process_creator, args=(str(data_dir), i, barrier, results))
        for i in range(CREATORS)
    ]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    winners = [i for i, what in outcomes.items() if what == "won"]
    assert sorted(outcomes.values()) == ["refused"] * (CREATORS - 1) + ["won"]
    assert load_wallet(data_dir)[1].seed == key_of(winners[0] + 1).seed
    assert stray_files(data_dir) == []


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
