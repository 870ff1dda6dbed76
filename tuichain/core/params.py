"""Network parameter sets: the consensus rules. A node's own choices live in policy.py."""

from __future__ import annotations

from dataclasses import dataclass

COIN = 100_000_000


@dataclass(frozen=True)
class NetworkParams:
    name: str
    network_id: int
    hrp: str
    pow_limit_bits: int
    genesis_bits: int
    genesis_time: int
    genesis_nonce: int
    target_spacing: int
    retarget_interval: int
    no_retarget: bool
    initial_subsidy: int
    halving_interval: int
    max_money: int = 21_000_000 * COIN
    max_block_size: int = 1_000_000
    max_future_time: int = 2 * 60 * 60
    mtp_window: int = 11
    # Whether the first retarget window starts at the genesis time (Bitcoin's rule). A
    # genesis fixed long before the network starts makes that window look days long and
    # cuts difficulty 4x however fast blocks came; False measures from block 1 instead.
    retarget_from_genesis: bool = True

    @property
    def target_timespan(self) -> int:
        return self.target_spacing * self.retarget_interval

    def subsidy(self, height: int) -> int:
        halvings = height // self.halving_interval
        return 0 if halvings >= 64 else self.initial_subsidy >> halvings

    def supply_at(self, height: int) -> int:
        """Total subsidy of blocks 1..height (genesis pays nothing)."""
        total = 0
        h = 1
        while h <= height and self.subsidy(h):
            era_end = min(height, (h // self.halving_interval + 1) * self.halving_interval - 1)
            total += (era_end - h + 1) * self.subsidy(h)
            h = era_end + 1
        return total


# Bitcoin's 0x1e00ffff target means about 2**24 hashes a block: ~10-20 s for one
# core of pure-Python midstate hashing. The 30 s spacing and 20-block interval
# let a new network find its pace in about ten minutes.
DEFAULT = NetworkParams(
    name="default",
    network_id=0x7475_6901,
    hrp="tc",
    pow_limit_bits=0x1F00FFFF,
    genesis_bits=0x1E00FFFF,
    genesis_time=1_795_046_400,
    genesis_nonce=42_597_124,
    target_spacing=30,
    retarget_interval=20,
    no_retarget=False,
    initial_subsidy=50 * COIN,
    halving_interval=100_000,
    retarget_from_genesis=False,
)

REGTEST = NetworkParams(
    name="regtest",
    network_id=0x7475_69FF,
    hrp="tcrt",
    pow_limit_bits=0x207FFFFF,
    genesis_bits=0x207FFFFF,
    genesis_time=1_795_046_400,
    genesis_nonce=0,
    target_spacing=1,
    retarget_interval=1,
    no_retarget=True,
    initial_subsidy=50 * COIN,
    halving_interval=150,
)

# The network lab's chain (`tuichain lab lighter-longer`): a real target that retargets
# every 4 blocks of 2 s, so a chain's work visibly differs from its length within a
# minute. The genesis (bits 0x2000ffff, about 256 hashes) is mined: nonce 26. The limit
# is 128 times easier than the genesis, so timestamps spread out can cut the difficulty
# (4x per retarget at most) and buy cheap blocks. The first window is measured from
# block 1, not from a genesis dated long before the lab started.
LAB = NetworkParams(
    name="lab",
    network_id=0x7475_69AB,
    hrp="tclab",
    pow_limit_bits=0x207FFFFF,
    genesis_bits=0x2000FFFF,
    genesis_time=1_795_046_400,
    genesis_nonce=26,
    target_spacing=2,
    retarget_interval=4,
    no_retarget=False,
    initial_subsidy=50 * COIN,
    halving_interval=150,
    retarget_from_genesis=False,
)

NETWORKS: dict[str, NetworkParams] = {p.name: p for p in (DEFAULT, REGTEST, LAB)}


def get_network(name: str) -> NetworkParams:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}") from None
