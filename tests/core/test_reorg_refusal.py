"""A transaction a reorg disconnects and the new chain no longer allows is refused out loud.

A double spend across a partition: the losing side's payment comes back from its
disconnected block, but its nonce is used on the winning chain. The node must say
so (a TxRejected with source "reorg": the rejection log and the transaction's life
both listen to it), not drop it without a word.
"""

from __future__ import annotations

from pathlib import Path

from tests.builders import genesis_link, key, make_block, pay
from tuichain.core.events import TxRejected
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST
from tuichain.core.rejections import Code

ALICE = key(1)
X, Y = key(2).address_digest, key(3).address_digest


async def test_the_losing_double_spend_is_refused_by_nonce_after_the_reorg(
    tmp_path: Path,
) -> None:
    ledger = await Ledger.open(tmp_path, REGTEST)
    seen: list[object] = []
    ledger.events.subscribe(seen.append)
    try:
        funded = make_block(REGTEST, genesis_link(), miner=ALICE.address_digest)
        to_x, to_y = pay(ALICE, X, COIN, 0), pay(ALICE, Y, 2 * COIN, 0)
        mine = make_block(REGTEST, funded, [to_x])
        for link in (funded, mine):
            assert (await ledger.submit_block(link.block)).status == "connected"
        theirs1 = make_block(REGTEST, funded, [to_y], memo=b"side 2")
        theirs2 = make_block(REGTEST, theirs1, memo=b"side 2")
        await ledger.submit_block(theirs1.block)
        assert (await ledger.submit_block(theirs2.block)).reorg

        refused = [e for e in seen if isinstance(e, TxRejected)]
        assert [(e.txid, e.code, e.source) for e in refused] == [
            (to_x.txid, Code.BAD_NONCE, "reorg")
        ]
        info = await ledger.tx_info(to_x.txid)
        assert info is None or (not info.in_mempool and info.block_hash is None)
    finally:
        await ledger.close()
