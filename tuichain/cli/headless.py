"""`tuichain --headless`: the same Node as the dashboard, with logs instead of screens.

Runs until SIGINT or SIGTERM, then stops the node (miner processes, peers,
server, database) and exits 0. A first signal stops cleanly; a second one,
for a stop that hangs, exits at once.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import sys

from ..config import LOG_FILE, NodeConfig
from ..core.errors import CoreError
from ..datadir import DataDirError, DataDirLock
from ..gc_pauses import freeze_imports
from ..logsetup import setup_logging, shutdown_logging
from .args import port_error_message

log = logging.getLogger("tuichain.headless")

STOP_TIMEOUT = 30.0  # seconds; a stop that takes longer is a bug, not a reason to hang


class StartupError(Exception):
    """The node could not start for a reason the user can act on."""


def run_headless(
    config: NodeConfig, *, level: int = logging.INFO, lock: DataDirLock | None = None
) -> int:
    log_path = config.data_dir / LOG_FILE
    try:
        setup_logging(log_path, stdout=True, level=level)
    except OSError as exc:
        _say(f"cannot open log file {log_path}: {exc.strerror or exc}")
        return 1
    try:
        return asyncio.run(_serve(config, lock))
    except StartupError as exc:
        log.error("%s", exc)
        _say(str(exc))
        return 1
    except Exception as exc:
        log.exception("the node failed")
        _say(f"the node failed: {exc!r} (details in {log_path})")
        return 1
    finally:
        shutdown_logging()


def _say(message: str) -> None:
    """One line for the person at the terminal (stdout carries the log)."""
    sys.stderr.write(f"tuichain: {message}\n")
    sys.stderr.flush()


async def _serve(config: NodeConfig, lock: DataDirLock | None) -> int:
    # Imported here so `tuichain --help` and the wallet commands stay light.
    from ..node import Node

    freeze_imports()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stopping.is_set():
            log.warning("second %s: exiting without a clean stop", sig.name)
            os._exit(1)
        log.info("%s received: stopping", sig.name)
        stopping.set()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    node = Node(config, lock=lock)
    try:
        try:
            await node.start()
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise StartupError(port_error_message(config.host, config.port, exc)) from None
            raise
        except (CoreError, DataDirError) as exc:
            # A data directory in use or of another network, a damaged wallet file, ...
            raise StartupError(exc.reason) from None
        if config.mine and node.address is not None:
            log.info("mining continuously to %s", node.address)
        log.info("running headless; stop with Ctrl-C or SIGTERM")
        await stopping.wait()
        log.info("stopping at height %d", node.status().height)
    finally:
        try:
            await asyncio.wait_for(node.stop(), STOP_TIMEOUT)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
    # The height after the stop: a block found as the stop began is stored, too.
    at = "" if node.stopped_height is None else f" at height {node.stopped_height}"
    log.info("stopped cleanly%s", at)
    return 0
