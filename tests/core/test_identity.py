"""The node identity key file: created 0600 once, the same id on every start, damage refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tuichain.core.identity import KEY_FILE, IdentityError, load_or_create, node_id_of


def test_created_private_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create(tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(tmp_path).node_id == first.node_id
    assert first.node_id == node_id_of(first.public_key)
    assert len(first.node_id) == 32


def test_damaged_or_exposed_key_is_refused_not_replaced(tmp_path: Path) -> None:
    load_or_create(tmp_path)
    path = tmp_path / KEY_FILE
    before = path.read_bytes()
    path.chmod(0o644)
    with pytest.raises(IdentityError, match="chmod 600"):
        load_or_create(tmp_path)
    path.chmod(0o600)
    path.write_text("not hex\n")
    with pytest.raises(IdentityError, match="move it aside"):
        load_or_create(tmp_path)
    assert path.read_text() == "not hex\n"
    assert before != path.read_bytes()
