"""Wallet keystore: never overwrite an existing wallet, concurrent creators."""

from __future__ import annotations

import errno
import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tuichain.core import wallet
from tuichain.core.errors import WalletError
from tuichain.core.wallet import create_wallet, load_wallet, wallet_path

from .walletfixtures import FAST_N, key_of, mode_of, stray_files

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
