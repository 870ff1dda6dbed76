"""A signature-checking process: `python -m tuichain.core.sigworker`.

The node sends encoded transactions through the worker's stdin and reads one outcome
byte per transaction from its stdout. A thread of the node's own that checks a
signature lets go of the interpreter's lock for the check and must take it back
after: while the event loop or the writer runs Python, that wait lasts up to the
switch interval (5 ms), so verify threads crawl exactly when the node is busy. A
process has a lock of its own.

Frames, both ways: a 4-byte little-endian length, then that many bytes.
- A request holds transactions, each a 2-byte little-endian length and its encoding.
- A reply holds one byte a transaction, in order: CHECKED_OK, CHECKED_BAD, or
  UNCHECKED for bytes that do not decode (the node then checks that one itself).

The check is `keys.verify` over the decoded transaction, the same function the
node runs in process, so a worker's outcome is the consensus rule's.
"""

from __future__ import annotations

import signal
import struct
import sys
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from .errors import DecodeError
from .keys import verify
from .tx import Transaction

FRAME = struct.Struct("<I")
ITEM = struct.Struct("<H")
CHECKED_BAD = 0
CHECKED_OK = 1
UNCHECKED = 2
# A request frame is at most this long: a reader never buffers more for one frame.
MAX_FRAME = 16 << 20


def request_frame(encodings: Sequence[bytes]) -> bytes:
    """The request for these encoded transactions."""
    parts = []
    for raw in encodings:
        parts.append(ITEM.pack(len(raw)))
        parts.append(raw)
    body = b"".join(parts)
    return FRAME.pack(len(body)) + body


def split_request(body: bytes) -> Iterator[bytes | None]:
    """The encodings a request body holds; None for a cut-off last item."""
    at = 0
    while at < len(body):
        if at + ITEM.size > len(body):
            yield None
            return
        (n,) = ITEM.unpack_from(body, at)
        at += ITEM.size
        if at + n > len(body):
            yield None
            return
        yield body[at:at + n]
        at += n


def outcome(raw: bytes | None) -> int:
    if raw is None:
        return UNCHECKED
    try:
        tx = Transaction.decode(raw)
    except DecodeError:
        return UNCHECKED
    return CHECKED_OK if verify(tx.sender, tx.signing_digest(), tx.signature) else CHECKED_BAD


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests until the node closes the pipe (or sends a frame too long)."""
    while (head := _read_exact(inp, FRAME.size)) is not None:
        (n,) = FRAME.unpack(head)
        if n > MAX_FRAME:
            return
        body = _read_exact(inp, n)
        if body is None:
            return
        reply = bytes(outcome(raw) for raw in split_request(body))
        out.write(FRAME.pack(len(reply)) + reply)
        out.flush()


def main() -> None:
    # The terminal's Ctrl+C reaches the whole process group: the node decides when its
    # workers stop, by closing their stdin, and a kill of the node closes it too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
