"""Node policy apart from consensus: per-network defaults, overrides, and who reads it."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from tuichain.config import NodeConfig
from tuichain.core.ledger import Ledger
from tuichain.core.mempool import Mempool
from tuichain.core.mining import MiningController
from tuichain.core.params import DEFAULT, REGTEST, NetworkParams
from tuichain.core.policy import DEFAULT_POLICY, Policy

CORE = Path(__file__).resolve().parents[2] / "tuichain" / "core"
CONSENSUS = ("params.py", "validation.py", "pow.py", "chainstate.py", "block.py", "tx.py")


def test_per_network_defaults() -> None:
    assert Policy.for_network(DEFAULT) == DEFAULT_POLICY
    assert DEFAULT_POLICY.mining_pace == 0.0
    assert Policy.for_network(REGTEST).mining_pace == 1.0
    assert Policy.for_network(REGTEST).min_fee == DEFAULT_POLICY.min_fee == 1_000


def test_consensus_parameters_hold_no_policy() -> None:
    consensus = {f.name for f in dataclasses.fields(NetworkParams)}
    assert not consensus & {f.name for f in dataclasses.fields(Policy)}


def test_consensus_code_does_not_import_policy() -> None:
    for name in CONSENSUS:
        tree = ast.parse((CORE / name).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "policy" not in imported, name


def test_mempool_bounds_come_from_the_policy() -> None:
    small = dataclasses.replace(DEFAULT_POLICY, mempool_max_count=3, mempool_max_bytes=999)
    assert Mempool(REGTEST, small).policy is small
    assert Mempool(REGTEST).policy == Policy.for_network(REGTEST)


def test_a_node_config_overrides_the_mining_pace(tmp_path: Path) -> None:
    assert NodeConfig(0, tmp_path, REGTEST).policy == Policy.for_network(REGTEST)
    paced = NodeConfig(0, tmp_path, REGTEST, mining_pace=0.05).policy
    assert paced == dataclasses.replace(Policy.for_network(REGTEST), mining_pace=0.05)


async def test_the_mining_controller_paces_by_the_ledgers_policy(tmp_path: Path) -> None:
    policy = dataclasses.replace(Policy.for_network(REGTEST), mining_pace=0.25)
    ledger = await Ledger.open(tmp_path, REGTEST, policy)
    try:
        assert ledger.policy is policy
        assert MiningController(ledger, lambda: None).pace == 0.25
        assert MiningController(ledger, lambda: None, pace=0.0).pace == 0.0
    finally:
        await ledger.close()
