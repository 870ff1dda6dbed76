"""Two real nodes, one keeping its chain in SQLite and one in PostgreSQL, converge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import NodePool, NodeProcess, run_cli, wait_for


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


def _supply(node: NodeProcess) -> dict[str, Any]:
    body: dict[str, Any] = node.get("/api/supply")
    return body


def _same_tip(a: NodeProcess, b: NodeProcess, least: int) -> dict[str, Any] | None:
    sa, sb = _supply(a), _supply(b)
    return sa if sa["tip"] == sb["tip"] and sa["height"] >= least else None


@pytest.mark.slow
def test_a_sqlite_node_and_a_postgres_node_converge(pool: NodePool, pg_dsn: str) -> None:
    url = f"{pg_dsn}?schema=e2e_converge"
    lite = pool.spawn("lite", "--mine", "--mining-pace", "0.05")
    lite.wait_height(4)
    pg = pool.spawn("pg", "--db", url, "--peer", lite.url)
    assert "chain database: postgresql://" in pg.stdout(), pg.stdout()
    stop = run_cli(["mining", "stop", "--data-dir", str(lite.data_dir)], pool.home)
    assert stop.returncode == 0, stop.stderr
    first = wait_for(lambda: _same_tip(lite, pg, 4), "the postgres node to reach the tip")
    assert first["conserved"]
    assert _supply(pg) == _supply(lite)  # same balances, same unclaimed coins
    assert not (pg.data_dir / "chain.sqlite3").exists()  # its chain is in the server

    # The other way round: blocks mined on the PostgreSQL node reach the SQLite one.
    mined = run_cli(["mine", "3", "--data-dir", str(pg.data_dir)], pool.home)
    assert mined.returncode == 0, mined.stderr
    last = wait_for(lambda: _same_tip(lite, pg, first["height"] + 3),
                    "the sqlite node to follow the postgres node")
    assert last["conserved"]
    assert _supply(pg) == _supply(lite)

    # A restart of the PostgreSQL node resumes from the server.
    height = pg.height()
    assert pg.stop() == 0
    again = pool.spawn("pg", "--db", url, port=pg.port)
    assert again.height() == height


def test_choosing_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuichain.config import SettingsError, build_config

    data = tmp_path / "d"
    data.mkdir()
    monkeypatch.delenv("TUICHAIN_DB", raising=False)
    assert build_config(port=5000, data_dir=data).database is None  # SQLite by default
    (data / "settings.toml").write_text('database = "postgresql://a@127.0.0.1/s"\n')
    assert build_config(port=5000, data_dir=data).database == "postgresql://a@127.0.0.1/s"
    monkeypatch.setenv("TUICHAIN_DB", "postgresql://b@127.0.0.1/e")
    assert build_config(port=5000, data_dir=data).database == "postgresql://b@127.0.0.1/e"
    flag = build_config(port=5000, data_dir=data, database="postgresql://c@127.0.0.1/f")
    assert flag.database == "postgresql://c@127.0.0.1/f"
    assert "postgresql" not in repr(flag)  # a password in the URL stays out of reprs
    (data / "settings.toml").write_text('database = "mysql://u:hunter2@h/d"\n')
    monkeypatch.delenv("TUICHAIN_DB")
    with pytest.raises(SettingsError) as info:
        build_config(port=5000, data_dir=data)
    assert "hunter2" not in str(info.value)
    assert "postgresql://" in str(info.value)


def test_a_bad_db_flag_is_one_line_without_the_password(tmp_path: Path) -> None:
    result = run_cli(["--headless", "--db", "mysql://u:hunter2@h/d"], tmp_path)
    assert result.returncode != 0
    assert "hunter2" not in result.stderr
    assert "--db" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
