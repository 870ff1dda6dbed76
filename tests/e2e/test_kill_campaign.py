"""SIGKILL at random moments while a node mines, syncs and reorganises; nothing may be lost.

Each scenario kills a real `tuichain --headless --network regtest` process (and
its miner workers) at moments drawn from a seeded `random.Random`, at least
KILLS times while the work is under way, and checks after every kill and every
restart (tests/e2e/audit.py does the checking):

- after the kill, from the SQLite file opened read-only: `PRAGMA
  integrity_check`, the active chain gapless and linked, the account table
  equal to an independent replay of the active chain's bodies, and the sum
  of balances equal to the subsidy issued up to the tip;
- after the restart, over REST and the file: every mempool transaction valid
  on the tip the mempool belongs to, and every transaction that must survive
  (payments the node acknowledged; transactions of blocks a reorg takes out)
  either on the active chain or in the mempool.

The kill moment is a random delay after the node answers REST. How long the
work takes depends on the machine, so the range of that delay adapts: it
shrinks when a kill came after the work was done and grows when it came before
the work began. Only kills during the work count towards KILLS. Every problem
is collected, so one run names every broken invariant, and the figures are
logged (run with --log-cli-level=INFO to see them).
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.builders import (
    Link,
    extend,
    funded,
    import_all,
    key,
    open_chain,
    paid_line,
    pay,
)
from tuichain.core.params import REGTEST

from .audit import (
    ChainView,
    LiveView,
    ledger_problems,
    live_view,
    mempool_problems_on_any,
    missing,
    read_store,
)
from .helpers import NodePool, NodeProcess, http_json

log = logging.getLogger(__name__)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

KILLS = 20  # kills during the work, per scenario
SEED = 0x9E
PAYERS = [key(i) for i in (1, 2, 3)]
PAYEE = key(9).address_digest
# The reorg: a short branch full of payments against a longer empty one; the switch
# comes when the heavy download passes the short tip, the rest of it is still the reorg.
SHORT_BLOCKS = 30
HEAVY_BLOCKS = 600
# The sync must outlast a start-up and the checks after it: 600 blocks of 3 payments
# were all in before the first possible kill on a faster machine, and the campaign
# ran out of starts (kills during the work: none in 120 starts but a few at height 59).
SYNC_BLOCKS = 1500
SYNC_PAYMENTS = 20
MAX_STARTS = 6 * KILLS  # a node that never gets its work done fails instead of looping


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[NodePool]:
    nodes = NodePool(tmp_path)
    yield nodes
    nodes.close()


def build_data_dir(path: Path, links: list[Link]) -> None:
    """A data directory whose chain already holds `links` (imported in-process)."""
    chain = open_chain(path)
    try:
        import_all(chain, links)
    finally:
        chain.store.close()


@dataclass
class Campaign:
    """Kills, restarts and the checks after each; the problems and figures of one scenario.

    `must_hold` are the txids that must stay on the active chain or in the mempool
    (`why` names them in a problem).
    """

    name: str
    rng: random.Random
    why: str = ""
    must_hold: list[bytes] = field(default_factory=list)
    window: float = 1.0  # upper end of the kill delay, seconds after REST answers
    problems: list[str] = field(default_factory=list)
    phases: Counter[str] = field(default_factory=Counter)
    starts: int = 0
    began: float = field(default_factory=time.monotonic)
    last_kill: str = "no kill yet"

    def start(self, node: NodeProcess) -> None:
        node.start()
        node.wait_ready()
        self.starts += 1

    def stop_and_check(self, node: NodeProcess) -> None:
        """A clean stop at the end, and the same checks of the file as after a kill."""
        assert node.stop() == 0, node.stderr()
        view = read_store(node.data_dir / "chain.sqlite3")
        where = f"clean stop (height {view.height})"
        self.problems += [f"{where}: {p}" for p in ledger_problems(REGTEST, view)]

    def kill_and_check(self, node: NodeProcess) -> ChainView:
        node.kill()
        view = read_store(node.data_dir / "chain.sqlite3")
        kill = sum(self.phases.values()) + 1
        where = f"kill {kill} (height {view.height})"
        self.problems += [f"{where}: {p}" for p in ledger_problems(REGTEST, view)]
        pending = {tx.txid for tx in view.mempool}
        self.last_kill = (
            f"kill {kill} left height {view.height}"
            + (", a heavier stored branch to switch to at start-up" if view.heavier_stored else "")
            + f", {len(pending.intersection(self.must_hold))} of them in the mempool table"
        )
        return view

    def check_live(self, node: NodeProcess) -> LiveView:
        view = live_view(node)
        where = f"restart {self.starts} (height {len(view.blocks) - 1})"
        self.problems += [f"{where}: {p}" for p in
                          mempool_problems_on_any(REGTEST, view.mempool, view.candidates)]
        lost = missing(self.must_hold, view.blocks, view.mempool)
        if lost:
            self.problems.append(
                f"{where}: {len(lost)} of {len(self.must_hold)} {self.why} neither on the "
                f"active chain nor in the mempool ({len(view.mempool)} pending; "
                f"{self.last_kill})"
            )
        return view

    def delay(self) -> float:
        return self.rng.uniform(0.0, self.window)

    def record(self, phase: str, stalled: bool = False) -> None:
        """Count a kill by when it came; steer the next delays towards the work.

        `stalled`: a kill during the work that found the node where the kill before
        left it. The delays are then too short for the node to get anything done
        after a start (a round that began after fast rounds shrank them), and the
        campaign would restart it at the same point until it gave up."""
        self.phases[phase] += 1
        if phase == "after":
            self.window = max(0.01, self.window * 0.75)
        elif phase == "before" or stalled:
            self.window *= 1.25

    @property
    def during(self) -> int:
        return self.phases["during"]

    def finish(self) -> None:
        figures = (
            f"{self.name}: {sum(self.phases.values())} kills ({dict(self.phases)}), "
            f"{self.starts} starts, {time.monotonic() - self.began:.1f} s, "
            f"{len(self.problems)} problem(s)"
        )
        log.info(figures)
        assert self.during >= KILLS, figures
        assert not self.problems, figures + "\n" + "\n".join(self.problems[:40])


def test_kills_while_mining_with_payments_flowing_in(pool: NodePool) -> None:
    """Payments the node acknowledged (202) are on the chain or pending after every kill."""
    campaign = Campaign("mining", random.Random(SEED), "acknowledged payments")
    node = pool.prepare("miner", "--mine", "--mining-pace", "0.1", "--miner-workers", "1")
    build_data_dir(node.data_dir, funded(PAYERS))
    nonces = {payer.address_digest: 0 for payer in PAYERS}
    acknowledged = campaign.must_hold
    while campaign.during < KILLS:
        campaign.start(node)
        campaign.check_live(node)
        deadline = time.monotonic() + campaign.delay()
        while time.monotonic() < deadline:
            payer = campaign.rng.choice(PAYERS)
            tx = pay(payer, PAYEE, 1000, nonces[payer.address_digest])
            status, doc = http_json(node.url + "/api/txs", {"tx": tx.encoded.hex()})
            if status == 202:
                acknowledged.append(tx.txid)
                nonces[payer.address_digest] += 1
            else:
                campaign.problems.append(f"a valid payment was refused: {status} {doc}")
                nonces.update(next_nonces(live_view(node)))
            time.sleep(0.01)
        campaign.kill_and_check(node)
        campaign.record("during")
    campaign.start(node)
    campaign.check_live(node)
    campaign.stop_and_check(node)
    log.info("mining: %d payments acknowledged", len(acknowledged))
    campaign.finish()


def next_nonces(view: LiveView) -> dict[bytes, int]:
    """Each payer's next nonce on that view: confirmed ones plus its pending ones."""
    out: dict[bytes, int] = {}
    for payer in PAYERS:
        address = payer.address_digest
        confirmed = sum(
            1 for b in view.blocks for tx in b.txs[1:] if tx.sender_address == address
        )
        out[address] = confirmed + sum(1 for tx in view.mempool if tx.sender_address == address)
    return out


def run_rounds(
    campaign: Campaign,
    pool: NodePool,
    name: str,
    fill: Path | None,
    args: list[str],
    target: bytes,
    work_started: set[bytes],
) -> None:
    """Rounds on fresh data directories (a copy of `fill`, or empty): start, kill at a
    random moment, check, until the node's tip is `target`; then the next round, until
    KILLS kills came while the work was under way (a stored header of `work_started`
    and the tip not yet `target`)."""
    rounds = 0
    while campaign.during < KILLS:
        rounds += 1
        node = pool.prepare(f"{name}{rounds}", *args)
        if fill is not None:
            shutil.copytree(fill, node.data_dir)
        left_at: tuple[bytes, int, bool] | None = None  # where the last kill left it
        while True:
            assert campaign.starts < MAX_STARTS, (
                f"{campaign.name}: still not done after {campaign.starts} starts"
            )
            campaign.start(node)
            campaign.check_live(node)
            time.sleep(campaign.delay())
            view = campaign.kill_and_check(node)
            if view.tip == target:
                campaign.record("after")
                break
            if not view.header_hashes & work_started:
                campaign.record("before")
                continue
            at = (view.tip, len(view.header_hashes), view.heavier_stored)
            campaign.record("during", stalled=at == left_at)
            left_at = at
        # The finished node once more, started and checked without a kill.
        campaign.start(node)
        campaign.check_live(node)
        campaign.stop_and_check(node)


def test_kills_while_syncing_from_a_peer_with_a_longer_chain(pool: NodePool) -> None:
    """An empty node syncs a chain of payments from a peer, killed again and again."""
    campaign = Campaign("syncing", random.Random(SEED + 1))
    prefix = funded(PAYERS)
    nonces: dict[bytes, int] = {}
    line = paid_line(REGTEST, prefix[-1], SYNC_BLOCKS, PAYERS, nonces, SYNC_PAYMENTS, to=PAYEE)
    source = pool.prepare("source")
    build_data_dir(source.data_dir, prefix + line)
    source.start().wait_ready()
    run_rounds(
        campaign, pool, "syncer", None, ["--peer", source.url], line[-1].hash,
        {link.hash for link in prefix + line},
    )
    assert source.stop() == 0
    campaign.finish()


def test_kills_during_a_reorg_to_a_heavier_branch_from_a_peer(pool: NodePool, tmp_path: Path
                                                              ) -> None:
    """The node holds a shorter branch full of payments; a peer serves a heavier empty one.
    The payments of the disconnected blocks must come back to the mempool, kill or not.

    Their return depends on issue 9 item 2 (a switch made when the chain is opened
    returns nothing to the mempool) and on the switch and the mempool write being
    one transaction (a kill between the two loses them in a live reorg as well).
    """
    campaign = Campaign("reorg", random.Random(SEED + 2), "payments of the disconnected branch")
    prefix = funded(PAYERS)
    short = paid_line(REGTEST, prefix[-1], SHORT_BLOCKS, PAYERS, {}, 10, to=PAYEE, tag=b"short")
    heavy = extend(REGTEST, prefix[-1], HEAVY_BLOCKS, tag=b"heavy")
    peer = pool.prepare("heavy")
    build_data_dir(peer.data_dir, prefix + heavy)
    peer.start().wait_ready()
    template = tmp_path / "short-template"
    build_data_dir(template, prefix + short)
    campaign.must_hold += [t.txid for link in short for t in link.block.txs[1:]]
    run_rounds(
        campaign, pool, "short", template, ["--peer", peer.url], heavy[-1].hash,
        {link.hash for link in heavy},
    )
    assert peer.stop() == 0
    campaign.finish()
