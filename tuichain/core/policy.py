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

    @classmethod
    def for_network(cls, params: NetworkParams) -> Policy:
        return _BY_NETWORK.get(params.name, DEFAULT_POLICY)


DEFAULT_POLICY = Policy()
_BY_NETWORK: dict[str, Policy] = {
    # Regtest's difficulty would otherwise make a block every few milliseconds
    # and bury a demo in thousands of blocks.
    REGTEST.name: Policy(mining_pace=1.0),
}
