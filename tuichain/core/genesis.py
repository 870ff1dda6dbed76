"""The fixed first block of each network."""

from __future__ import annotations

from functools import cache

from .block import Block, BlockHeader
from .params import NetworkParams
from .tx import make_coinbase

GENESIS_MEMO = b"tuichain genesis: a small proof-of-work chain to run, watch and understand"
BURN_ADDRESS = bytes(20)


@cache
def genesis_block(params: NetworkParams) -> Block:
    # The genesis coinbase pays nothing to nobody: supply starts at block 1.
    coinbase = make_coinbase(params.network_id, BURN_ADDRESS, 0, 0, GENESIS_MEMO)
    header = BlockHeader(
        version=1,
        prev_hash=bytes(32),
        merkle_root=coinbase.txid,
        time=params.genesis_time,
        bits=params.genesis_bits,
        nonce=params.genesis_nonce,
    )
    return Block(header, (coinbase,))
