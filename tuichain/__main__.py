"""`python -m tuichain`: the same as the `tuichain` command."""

import sys

from .cli import main

# The guard matters: the miner's worker processes are spawned, and spawning
# re-imports the parent's main module under another name.
if __name__ == "__main__":
    sys.exit(main())
