"""Node.send refuses a payment the wallet screen and the wallet CLI would refuse too."""

from __future__ import annotations

import pytest

from tuichain.core.errors import ValidationError
from tuichain.core.params import COIN

from .conftest import StartNode


async def test_send_refuses_the_wallets_own_address(start_node: StartNode) -> None:
    node = await start_node("a")
    await node.create_wallet(None)
    assert node.address is not None
    await node.mining.mine_one()
    with pytest.raises(ValidationError, match="own address") as caught:
        await node.send(node.address, COIN, 1_000)
    assert caught.value.code == "own-address"
    assert node.ledger.mempool_size == 0
