"""Logging for the node: a rotating file in the data directory, and stdout when headless.

Only the "tuichain" and "aiohttp" loggers are configured, never the root
logger (no ``logging.basicConfig``): under the TUI anything reaching the
terminal would be drawn over the screen, so the app adds its own handler for
the log screen and passes ``stdout=False``.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
STDOUT_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 3
# aiohttp logs every client disconnect at INFO/DEBUG; only its warnings matter to us.
AIOHTTP_LEVEL = logging.WARNING

# Handlers we installed carry this attribute, so a second call (tests, a TUI
# restarting its node) replaces them instead of writing every line twice.
_OURS = "_tuichain_handler"
# Each logger's (propagate, level) before setup_logging changed them.
_before: dict[str, tuple[bool, int]] = {}


def setup_logging(log_file: Path, *, stdout: bool, level: int = logging.INFO) -> None:
    """Send the "tuichain" logger (and aiohttp's warnings) to ``log_file``, and stdout if asked."""
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = []
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handlers.append(file_handler)
    if stdout:
        stream = logging.StreamHandler(sys.stdout)
        stream.setFormatter(logging.Formatter(STDOUT_FORMAT, datefmt="%H:%M:%S"))
        handlers.append(stream)
    for handler in handlers:
        setattr(handler, _OURS, True)

    shutdown_logging()
    for name, lvl in (("tuichain", level), ("aiohttp", AIOHTTP_LEVEL)):
        logger = logging.getLogger(name)
        _before.setdefault(name, (logger.propagate, logger.level))
        logger.setLevel(lvl)
        # Not propagating keeps a root handler someone else installed (a
        # library's basicConfig) from echoing our lines onto the terminal.
        logger.propagate = False
        for handler in handlers:
            logger.addHandler(handler)


def shutdown_logging() -> None:
    """Flush and close the handlers setup_logging installed (end of a headless run, or
    of the app), and give the loggers back their level and propagation."""
    closed: set[int] = set()
    for name in ("tuichain", "aiohttp"):
        logger = logging.getLogger(name)
        if name in _before:
            logger.propagate, level = _before.pop(name)
            logger.setLevel(level)
        for handler in _remove_ours(logger):
            if id(handler) not in closed:
                closed.add(id(handler))
                handler.flush()
                handler.close()


def _remove_ours(logger: logging.Logger) -> list[logging.Handler]:
    ours = [h for h in logger.handlers if getattr(h, _OURS, False)]
    for handler in ours:
        logger.removeHandler(handler)
    return ours
