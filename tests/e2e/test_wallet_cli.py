"""`tuichain wallet ...` against a real headless node: keys local, transactions over REST."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuichain.core.amounts import parse_amount
from tuichain.core.keys import decode_address, encode_address

from .helpers import NodePool, NodeProcess, free_port, http_json, wait_for

pytestmark = pytest.mark.timeout(180)

PASSPHRASE = "correct horse battery staple"


class Setup:
    def __init__(self, pool: NodePool, miner: NodeProcess, payer_dir: Path) -> None:
        self.pool = pool
        self.miner = miner
        self.payer_dir = payer_dir

    def wallet(self, *args: str, stdin: str | None = None, **env: str):  # noqa: ANN201
        return self.pool.wallet(*args, stdin=stdin, **env)

    def address_of(self, data_dir: Path) -> str:
        result = self.wallet("address", "--data-dir", str(data_dir), "--network", "regtest")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def account(self, address: str) -> dict:
        return self.miner.get(f"/api/addresses/{address}")

    def balance(self, data_dir: Path) -> dict:
        result = self.wallet(
            "balance",
            "--data-dir",
            str(data_dir),
            "--network",
            "regtest",
            "--node",
            self.miner.url,
            "--json",
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def wait_mempool_empty(self) -> None:
        wait_for(lambda: self.miner.status()["mempool"] == 0, "an empty mempool")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("wallet-cli")
    pool = NodePool(root)
    try:
        payer_dir = root / "payer"
        # The wallet exists before the node starts: --mine must use it, not make another.
        new = pool.wallet("new", "--data-dir", str(payer_dir), "--network", "regtest")
        assert new.returncode == 0, new.stderr
        miner = pool.spawn("payer", "--mine", "--mining-pace", "0.1")
        assert "created one" not in miner.stdout()
        miner.wait_height(2)
        yield Setup(pool, miner, payer_dir)
    finally:
        pool.close()


def test_new_prints_the_address_and_refuses_to_overwrite(setup: Setup, tmp_path: Path) -> None:
    data_dir = tmp_path / "w"
    first = setup.wallet("new", "--data-dir", str(data_dir), "--network", "regtest")
    assert first.returncode == 0, first.stderr
    address = first.stdout.strip()
    assert address.startswith("tcrt1")
    before = (data_dir / "wallet.json").read_bytes()

    again = setup.wallet("new", "--data-dir", str(data_dir), "--network", "regtest")
    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert (data_dir / "wallet.json").read_bytes() == before
    # The network was remembered: no --network needed from now on.
    bare = setup.wallet("address", "--data-dir", str(data_dir))
    assert bare.stdout == address + "\n"
    assert bare.stderr == ""


def test_address_is_bare(setup: Setup) -> None:
    result = setup.wallet("address", "--data-dir", str(setup.payer_dir))
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1
    assert result.stdout.strip() in setup.miner.stdout()  # "mining continuously to <addr>"


def test_address_without_wallet_says_how_to_make_one(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()  # a directory, but no wallet in it
    result = setup.wallet("address", "--data-dir", str(tmp_path / "none"))
    assert result.returncode != 0
    assert "tuichain wallet new" in result.stderr
    assert "Traceback" not in result.stderr


def test_balance_shows_mined_coins(setup: Setup) -> None:
    text = setup.wallet("balance", "--data-dir", str(setup.payer_dir), "--node", setup.miner.url)
    assert text.returncode == 0, text.stderr
    for label in ("confirmed", "pending", "available"):
        assert label in text.stdout
    assert setup.balance(setup.payer_dir)["confirmed"] > 0


def test_default_node_url_comes_from_settings(setup: Setup) -> None:
    """No --node: the port the node recorded in its state.toml is used."""
    result = setup.wallet("balance", "--data-dir", str(setup.payer_dir), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["confirmed"] > 0


def test_send_is_mined_and_received(setup: Setup, tmp_path: Path) -> None:
    payee_dir = tmp_path / "payee"
    made = setup.wallet("new", "--data-dir", str(payee_dir), "--network", "regtest")
    payee = made.stdout.strip()
    sent = setup.wallet(
        "send",
        "--data-dir",
        str(setup.payer_dir),
        "--node",
        setup.miner.url,
        "--to",
        payee,
        "--amount",
        "1.5",
        "--fee",
        "0.0001",
        "--memo",
        "rent",
    )
    assert sent.returncode == 0, sent.stderr
    txid = sent.stdout.strip()
    assert len(txid) == 64

    def confirmed() -> dict | None:
        status, doc = http_json(f"{setup.miner.url}/api/txs/{txid}")
        return doc if status == 200 and doc.get("confirmations", 0) >= 1 else None

    wait_for(confirmed, f"tx {txid} to be mined")
    got = setup.balance(payee_dir)
    assert got["confirmed"] == parse_amount("1.5")
    assert got["pending"] == 0


def test_encrypted_wallet_signs_with_the_passphrase(setup: Setup, tmp_path: Path) -> None:
    enc_dir = tmp_path / "enc"
    made = setup.wallet(
        "new",
        "--data-dir",
        str(enc_dir),
        "--network",
        "regtest",
        "--passphrase-stdin",
        stdin=PASSPHRASE + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads((enc_dir / "wallet.json").read_text())["encrypted"] is True
    address = made.stdout.strip()
    setup.wait_mempool_empty()
    fund = setup.wallet(
        "send",
        "--data-dir",
        str(setup.payer_dir),
        "--node",
        setup.miner.url,
        "--to",
        address,
        "--amount",
        "2",
    )
    assert fund.returncode == 0, fund.stderr
    wait_for(lambda: setup.balance(enc_dir)["confirmed"] == parse_amount("2"), "funds")

    back = [
        "send",
        "--data-dir",
        str(enc_dir),
        "--node",
        setup.miner.url,
        "--to",
        setup.address_of(setup.payer_dir),
        "--amount",
        "0.5",
    ]
    no_pass = setup.wallet(*back)  # stdin is not a terminal and no variable is set
    assert no_pass.returncode != 0
    assert "TUICHAIN_PASSPHRASE" in no_pass.stderr
    wrong = setup.wallet(*back, TUICHAIN_PASSPHRASE="wrong")
    assert wrong.returncode != 0
    assert "wrong passphrase" in wrong.stderr
    assert setup.account(address)["nonce"] == 0
    right = setup.wallet(*back, TUICHAIN_PASSPHRASE=PASSPHRASE)
    assert right.returncode == 0, right.stderr


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"--to": "typo"}, "bad --to address"),
        ({"--to": "other-network"}, "expected 'tcrt'"),
        ({"--amount": "abc"}, "bad --amount"),
        ({"--amount": "-1"}, "negative"),
        ({"--amount": "0"}, "more than zero"),
        ({"--amount": "1.123456789"}, "decimal places"),
        ({"--fee": "x"}, "bad --fee"),
        ({"--memo": "m" * 81}, "memo"),
        ({"--amount": "99999999"}, "available"),
    ],
    ids=[
        "bad-checksum",
        "other-network",
        "abc",
        "negative",
        "zero",
        "too-many-decimals",
        "bad-fee",
        "long-memo",
        "over-balance",
    ],
)
def test_bad_send_is_refused_and_nothing_sent(
    setup: Setup, tmp_path: Path, change: dict[str, str], needle: str
) -> None:
    other = tmp_path / "other"
    payee = setup.wallet("new", "--data-dir", str(other), "--network", "regtest").stdout.strip()
    digest = decode_address("tcrt", payee)
    variants = {
        # One character changed: the checksum must catch it.
        "typo": payee[:-1] + ("q" if payee[-1] != "q" else "p"),
        "other-network": encode_address("tc", digest),
    }
    args = {"--to": payee, "--amount": "1", **change}
    args["--to"] = variants.get(args["--to"], args["--to"])
    setup.wait_mempool_empty()
    payer = setup.address_of(setup.payer_dir)
    nonce_before = setup.account(payer)["nonce"]

    flat = [item for pair in args.items() for item in pair]
    result = setup.wallet(
        "send", "--data-dir", str(setup.payer_dir), "--node", setup.miner.url, *flat
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert result.stdout == ""
    assert setup.miner.status()["mempool"] == 0
    assert setup.account(payer)["nonce"] == nonce_before


def test_unreachable_node_is_a_clear_message(setup: Setup) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = setup.wallet("balance", "--data-dir", str(setup.payer_dir), "--node", dead)
    assert result.returncode == 1
    assert f"cannot reach the node at {dead} (connection refused)" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_selects_the_default_data_dir(setup: Setup) -> None:
    """--port P --network regtest means $TUICHAIN_HOME/regtest-P, as for the node itself."""
    port = str(free_port())
    made = setup.wallet("new", "--port", port, "--network", "regtest")
    assert made.returncode == 0, made.stderr
    assert (setup.pool.home / f"regtest-{port}" / "wallet.json").exists()
    again = setup.wallet("address", "--port", port, "--network", "regtest")
    assert again.stdout == made.stdout
    # The wallet is regtest's: asking for it as the default network's is refused.
    other = setup.wallet(
        "address", "--data-dir", str(setup.pool.home / f"regtest-{port}"), "--network", "default"
    )
    assert other.returncode == 2
    assert "belongs to a 'regtest' node" in other.stderr


def test_wallet_of_another_network_is_told_so(setup: Setup, tmp_path: Path) -> None:
    made = setup.wallet("new", "--data-dir", str(tmp_path / "main"), "--network", "default")
    assert made.returncode == 0, made.stderr
    result = setup.wallet(
        "balance", "--data-dir", str(tmp_path / "main"), "--node", setup.miner.url
    )
    assert result.returncode == 2
    assert "runs the 'regtest' network" in result.stderr
