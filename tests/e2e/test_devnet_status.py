"""The readiness polls of the devnet and the lab on a port that answers with something
other than HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tuichain.control.lab import LabNode, _status_of
from tuichain.devnet.state import DevnetNode, fetch_status


@contextmanager
def garbage_port(answers: int) -> Iterator[int]:
    """A port whose next `answers` connections read back a request line. A poll of a
    port no one listens on yet can connect its socket to itself and read its own
    request so; a stray program on the port answers in the same kind of way."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        for _ in range(answers):
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"GET /api/status HTTP/1.1\r\n\r\n")

    answering = threading.Thread(target=answer, daemon=True)
    answering.start()
    try:
        yield server.getsockname()[1]
    finally:
        answering.join(timeout=5)
        server.close()


def test_a_port_answering_garbage_is_not_ready_and_not_a_crash(tmp_path: Path) -> None:
    with garbage_port(2) as port:
        assert fetch_status(DevnetNode(1, port, tmp_path, tmp_path / "node.pid")) is None
        assert _status_of(LabNode(1, port, tmp_path)) is None
