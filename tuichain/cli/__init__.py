"""The `tuichain` command line: the node, `tuichain wallet` and `tuichain devnet`."""

from .main import main

__all__ = ["main"]
