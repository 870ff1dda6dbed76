"""What a node may serve a peer's getdata from its store, on both backends."""

from __future__ import annotations

from tests.builders import extend, genesis_link
from tuichain.core.params import REGTEST
from tuichain.core.store import Store
from tuichain.core.store.base import HAVE_DATA, HEADER_ONLY, INVALID, HeaderEntry


def test_only_stored_bodies_not_known_invalid_are_served(store: Store) -> None:
    links = extend(REGTEST, genesis_link(), 4)
    parent = genesis_link()
    entries = []
    statuses = [HAVE_DATA, INVALID, HEADER_ONLY, HAVE_DATA]
    for i, (link, status) in enumerate(zip(links, statuses, strict=True)):
        entries.append(HeaderEntry(link.hash, parent.hash, link.height, 1000 + i,
                                   link.header, status))
        parent = link
    with store.transaction():
        store.put_headers(entries)
        for link, status in zip(links, statuses, strict=True):
            if status != HEADER_ONLY:
                store.put_block(link.hash, link.block.encoded)
    unknown = bytes(32)
    asked = [links[3].hash, unknown, links[1].hash, links[2].hash, links[0].hash]
    served = store.servable_blocks(asked)
    assert served == {
        links[0].hash: (links[0].height, 1000, links[0].block.encoded),
        links[3].hash: (links[3].height, 1003, links[3].block.encoded),
    }
