"""What this node chooses to do, apart from what the network's consensus requires.

Two nodes with different policies still agree on every block; consensus code
(validation, pow, chainstate's fork choice) never reads a Policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import REGTEST, NetworkParams


@dataclass(frozen=True)
class Policy:
    # Units; about 7 a byte of a typical 145-byte payment. The fee the node
    # suggests never goes below it and the wallet CLI sends it by default; the
    # mempool still takes any fee of 0 or more.
    min_fee: int = 1_000
    # Seconds between blocks when mining continuously; 0 mines flat out.
    mining_pace: float = 0.0
    # The mempool evicts the lowest fee rates beyond either bound.
    mempool_max_count: int = 20_000
    mempool_max_bytes: int = 8_000_000
    # Blocks waiting for their parent's body, held in memory: bounded by count and by
    # encoded bytes, in total and per peer (two full blocks each by default).
    orphan_max_count: int = 256
    orphan_max_bytes: int = 8_000_000
    orphan_peer_max_bytes: int = 2_000_000
    # Headers are kept only when their chain comes within this many blocks (at the
    # tip's difficulty) of the tip's work: Bitcoin Core's anti-DoS work threshold.
    header_work_blocks: int = 144
    # Seconds a peer may sit on a block it announced and we asked it for before it
    # is dropped as a staller and the block is asked elsewhere.
    block_stall_timeout: float = 20.0
    # Inventory items (txids and block hashes in `inv` messages) taken from one peer: a
    # burst, then a sustained rate. Each item costs a lookup and maybe a request, so a
    # peer announcing more is rate-limited (the excess ignored, a point of score per
    # message) and, if it keeps on, banned. An honest peer announces what its mempool
    # accepted, far below this (the burst is above a full mempool's count).
    inv_items_burst: int = 25_000
    inv_items_per_second: float = 1_000.0

    @classmethod
    def for_network(cls, params: NetworkParams) -> Policy:
        return _BY_NETWORK.get(params.name, DEFAULT_POLICY)


DEFAULT_POLICY = Policy()
_BY_NETWORK: dict[str, Policy] = {
    # Regtest's difficulty would otherwise make a block every few milliseconds
    # and bury a demo in thousands of blocks.
    REGTEST.name: Policy(mining_pace=1.0),
}
