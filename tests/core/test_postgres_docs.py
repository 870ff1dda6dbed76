"""The example queries of docs/postgres.md, run as written through psql against a chain
the PostgreSQL backend stored, give what the node itself says."""

from __future__ import annotations

import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

from tests.builders import genesis_link, key, make_block, pay
from tests.pgcluster import PgCluster
from tuichain.core.block import Block
from tuichain.core.chainstate import ChainState
from tuichain.core.hashing import hash_to_hex
from tuichain.core.params import COIN, REGTEST
from tuichain.core.store import open_store
from tuichain.core.store.postgres import split_url

DOC = Path(__file__).resolve().parents[2] / "docs" / "postgres.md"
KEYS = [key(n) for n in range(1, 4)]
NOW = REGTEST.genesis_time + 10**8


def example_queries() -> list[str]:
    text = DOC.read_text().split("## Example queries", 1)[1]
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def psql(cluster: PgCluster, dsn: str, query: str, **variables: str) -> list[list[str]]:
    conninfo, schema = split_url(dsn, REGTEST.name)
    args = [str(cluster.bindir / "psql"), "-X", "-q", "-A", "-t", "-F", "|",
            "-v", "ON_ERROR_STOP=1", conninfo]
    for name, value in variables.items():
        args += ["-v", f"{name}={value}"]
    env = dict(os.environ, PGOPTIONS=f"-c search_path={schema}")
    out = subprocess.run(args, input=query, capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return [line.split("|") for line in out.stdout.splitlines() if line]


def test_the_documented_queries(pg_cluster: PgCluster, pg_dsn: str) -> None:
    richest, fees, confirmations = example_queries()
    cs = ChainState(open_store(pg_dsn, REGTEST.name), REGTEST)
    try:
        link = genesis_link()
        blocks: list[Block] = []
        for h in range(1, 4):  # every key mines once: three funded accounts
            link = make_block(REGTEST, link, miner=KEYS[h - 1].address_digest)
            blocks.append(link.block)
        nonces = [0, 0, 0]
        paid = None
        for h in range(4, 16):
            txs = []
            for s in range(h % 3 + 1):
                memo = b"memo %d" % h if s == 1 else b""
                tx = pay(KEYS[s], KEYS[(s + 1) % 3].address_digest, 1000 * h, nonces[s],
                         fee=100 * h + s, memo=memo)
                nonces[s] += 1
                txs.append(tx)
            link = make_block(REGTEST, link, txs, miner=KEYS[h % 3].address_digest)
            blocks.append(link.block)
            if h == 9:
                paid = txs[0]
        for block in blocks:
            assert cs.process_block(block, now=NOW).status == "connected"
        waiting = pay(KEYS[0], KEYS[2].address_digest, 5, nonces[0], fee=5000)
        cs.add_tx(waiting, now=NOW)
        tip = cs.tip.height
        assert tip == 15
        assert paid is not None

        rows = psql(pg_cluster, pg_dsn, richest)
        accounts = sorted(cs.store.account_rows(), key=lambda r: (-r[1], r[0]))[:10]
        assert [(bytes.fromhex(a), Decimal(c), int(n)) for a, c, n in rows] == [
            (a, Decimal(b) / COIN, n) for a, b, n in accounts
        ]

        rows = psql(pg_cluster, pg_dsn, fees)
        expected = [
            (h, len(b.txs) - 1, Decimal(sum(t.fee for t in b.txs)) / COIN)
            for h, b in zip(range(15, 5, -1), blocks[::-1], strict=False)
        ]
        assert [(int(h), int(n), Decimal(f)) for h, n, f in rows] == expected
        assert any(n > 1 for _, n, _ in expected)

        rows = psql(pg_cluster, pg_dsn, confirmations, txid=hash_to_hex(paid.txid))
        assert rows == [["9", str(tip - 9 + 1)]]
        rows = psql(pg_cluster, pg_dsn, confirmations, txid=hash_to_hex(waiting.txid))
        assert rows == [["", "0"]]
        rows = psql(pg_cluster, pg_dsn, confirmations, txid="ab" * 32)
        assert rows == []
    finally:
        cs.store.close()
