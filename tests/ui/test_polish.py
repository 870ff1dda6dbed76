"""The dashboard's polish: counted nouns, whole verdicts, history columns that add up,
peers' heights, copying, hex-prefix search, and labels apart from their values."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tuichain.app import TuichainApp
from tuichain.core.amounts import parse_amount
from tuichain.core.hashing import hash_to_hex
from tuichain.core.ledger import Ledger
from tuichain.core.params import COIN, REGTEST
from tuichain.core.tx import make_payment
from tuichain.display.plural import plural

from .conftest import MakeConfig, MakeNode, app_started, table_rows, until
from .fixed_chain import KEY_A, KEY_B, build_chain
from .test_screens_b import prepare, search, text_of

SIZES = [(80, 24), (120, 40)]


def screen_text(pilot: Pilot[Any]) -> str:
    return "\n".join(s.text for s in pilot.app.screen._compositor.render_strips())


def test_plural_counts_one_and_many() -> None:
    assert plural(1, "confirmation") == "1 confirmation"
    assert plural(2, "confirmation") == "2 confirmations"
    assert plural(0, "block") == "0 blocks"
    assert plural(1, "tx") == "1 tx"
    assert plural(3, "tx") == "3 txs"
    assert plural(2, "hash") == "2 hashes"
    assert plural(1234, "block") == "1,234 blocks"


async def test_one_confirmation_one_worker_one_block(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config(), blocks=4))
    async with app.run_test(size=SIZES[0]) as pilot:
        node = await app_started(pilot)
        await pilot.press("m")
        await until(pilot, lambda: "1 worker " in screen_text(pilot), "one worker")
        assert "(s)" not in re.sub(r"\((?:b|s)\)", "", screen_text(pilot))
        tip = node.ledger.tip
        assert tip is not None
        await pilot.press("e")
        await until(pilot, lambda: bool(app.screen.query("#explorer-blocks")), "the explorer")
        await search(pilot, str(tip.height))
        await until(pilot, lambda: "1 confirmation" in screen_text(pilot), "1 confirmation")
        text = screen_text(pilot)
        assert "1 confirmations" not in text
        assert re.search(r"\b1 transaction\b(?!s)", text), text


async def test_the_address_verdict_is_shown_whole_at_80_columns(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config(), blocks=1))
    async with app.run_test(size=SIZES[0]) as pilot:
        await app_started(pilot)
        await pilot.press("w", "s")
        wrong = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # another network's address
        app.screen.query_one("#to", Input).value = wrong
        await until(pilot, lambda: "✗" in screen_text(pilot), "the verdict")
        reason = app.screen.query_one("#to").error  # type: ignore[attr-defined]
        assert reason
        assert len(reason) > 20
        flat = " ".join(screen_text(pilot).split())
        assert f"✗ {reason}" in flat, flat


async def test_outgoing_history_counts_the_fee_once(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config(), blocks=6))
    async with app.run_test(size=SIZES[1]) as pilot:
        node = await app_started(pilot)
        tx = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, 5 * COIN, 20_000, 2)
        await node.ledger.submit_tx(tx, "test")
        await pilot.press("w")
        await until(pilot, lambda: len(table_rows(pilot, "#history")) == 9, "nine rows")
        account = await node.wallet_account()
        assert account is not None
        rows = table_rows(pilot, "#history")
        by_txid = {r[5][:8]: r for r in rows}
        out = by_txid[hash_to_hex(tx.txid)[:8]]
        assert parse_amount(out[3].lstrip("+-")) == 5 * COIN
        assert out[3].startswith("-")
        assert out[4] == "-0.0002"

        def signed(cell: str) -> int:
            cell = cell.strip()
            if not cell:
                return 0
            value = parse_amount(cell.lstrip("+-"), allow_zero=True)
            return -value if cell.startswith("-") else value

        # Every coin in the two columns is counted once: they add up to the balance.
        total = sum(signed(r[3]) + signed(r[4]) for r in rows)
        assert total == account.balance + account.pending_delta


async def test_inbound_peer_row_shows_height_and_latency(
    make_config: MakeConfig, make_node: MakeNode
) -> None:
    app = TuichainApp(await prepare(make_config("a"), blocks=4))
    async with app.run_test(size=SIZES[1]) as pilot:
        node = await app_started(pilot)
        other = await make_node("b")
        await other.net.connect(node.listen_url)  # it dials us: inbound here
        await until(pilot, lambda: other.ledger.tip is not None and other.ledger.tip.height == 4,
                    "the peer synced from us")
        await pilot.press("p")

        def row() -> list[str]:
            rows = table_rows(pilot, "#peers-table")
            return rows[0] if rows else []

        await until(pilot, lambda: bool(row()) and row()[1] == "in", "the inbound row")
        await until(pilot, lambda: row()[2] == "4", "its height, 4", limit=30)
        await until(pilot, lambda: row()[3].endswith(" ms"), "its latency")


async def test_copy_outside_tmux_uses_osc52_and_says_so(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    app = TuichainApp(await prepare(make_config(), blocks=1))
    async with app.run_test(size=SIZES[1]) as pilot:
        node = await app_started(pilot)
        await pilot.press("w", "c")
        await until(pilot, lambda: any("OSC 52" in n.message for n in app._notifications),
                    "a toast naming OSC 52")
        assert app.clipboard == node.address


async def test_explorer_finds_blocks_and_txs_by_a_hex_prefix(make_config: MakeConfig) -> None:
    app = TuichainApp(await prepare(make_config(), blocks=4))
    async with app.run_test(size=SIZES[0]) as pilot:
        node = await app_started(pilot)
        await pilot.press("e")
        await until(pilot, lambda: bool(app.screen.query("#explorer-blocks")), "the explorer")
        assert "8+ hex digits" in app.screen.query_one("#explorer-search", Input).placeholder
        await search(pilot, "abc1234")
        await until(pilot, lambda: "at least 8 hex digits" in text_of(app, "#explorer-msg"),
                    "too short")
        block = await node.ledger.hash_at(2)
        assert block is not None
        await search(pilot, hash_to_hex(block)[:8].upper())
        await until(pilot, lambda: "Block 2" in screen_text(pilot), "block 2 by its prefix")
        await pilot.press("escape")
        third = await node.ledger.hash_at(3)
        assert third is not None
        payment = await node.ledger.get_block(third)
        assert payment is not None
        txid = payment.txs[1].txid
        await search(pilot, hash_to_hex(txid)[:10])
        await until(pilot, lambda: hash_to_hex(txid) in screen_text(pilot), "the tx by prefix")
        await pilot.press("escape")
        await until(pilot, lambda: bool(app.screen.query("#explorer-search")), "back")
        await search(pilot, "f" * 8 if not hash_to_hex(block).startswith("f" * 8) else "0" * 9)
        await until(pilot, lambda: "not found" in text_of(app, "#explorer-msg"), "no match")


async def test_store_prefix_lookup_is_a_range_on_the_display_form(make_config: MakeConfig) -> None:
    config = make_config()
    await asyncio.to_thread(config.data_dir.mkdir, parents=True)
    await build_chain(config.data_dir, 20)
    ledger = await Ledger.open(config.data_dir, REGTEST)
    try:
        hashes = [await ledger.hash_at(h) for h in range(21)]
        shown = [hash_to_hex(h) for h in hashes if h is not None]
        for text in shown:
            blocks, _ = await ledger.find_prefix(text[:8])
            assert [hash_to_hex(b) for b in blocks] == [text]
        # Short prefixes shared by several blocks come back as more than one.
        first = shown[0][0]
        sharing = [s for s in shown if s.startswith(first)]
        blocks, _ = await ledger.find_prefix(first, limit=100)
        assert sorted(hash_to_hex(b) for b in blocks) == sorted(sharing)
        # The boundary digits: every hash starts with something in 0..f.
        total = 0
        for digit in "0123456789abcdef":
            found, _ = await ledger.find_prefix(digit, limit=100)
            total += len(found)
        assert total == len(shown)
        with pytest.raises(ValueError, match="hex digits"):
            await ledger.find_prefix("xyz")
    finally:
        await ledger.close()


# A label glued to a value or to the next label ("confirmed 200pending").
GLUED = re.compile(
    r"[0-9A-Za-z.)](?:confirmed|pending|available|stale|difficulty|nonce|reward|peak)\b"
    r"|\b(?:confirmed|pending|available|stale|difficulty|nonce|fee|reward|height|peak)[0-9]"
)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_label_runs_into_its_value_on_any_screen(
    make_config: MakeConfig, size: tuple[int, int]
) -> None:
    app = TuichainApp(await prepare(make_config(), blocks=6))
    async with app.run_test(size=size) as pilot:
        node = await app_started(pilot)
        tx = make_payment(KEY_A, REGTEST.network_id, KEY_B.address_digest, 200 * COIN, 20_000, 2)
        await node.ledger.submit_tx(tx, "test")
        for key in "wmoepxtl":
            await pilot.press(key)
            await pilot.pause(0.5)
            await pilot.app.workers.wait_for_complete()
            text = screen_text(pilot)
            assert not GLUED.search(text), (key, text)
        await pilot.press("e")
        await search(pilot, "3")
        await until(pilot, lambda: "Block 3" in screen_text(pilot), "block 3")
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: "Merkle proof" in screen_text(pilot), "a transaction")
        assert not GLUED.search(screen_text(pilot)), screen_text(pilot)
