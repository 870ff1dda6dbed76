"""Helpers shared by the wallet keystore tests."""

from __future__ import annotations

import stat
from pathlib import Path

from tuichain.core.keys import PrivateKey
from tuichain.core.wallet import WALLET_FILE

# Tiny scrypt cost so the suite stays fast; one test checks the real default.
FAST_N = 2**4


def key_of(i: int) -> PrivateKey:
    return PrivateKey(bytes([i]) * 32)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stray_files(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.name != WALLET_FILE)
