"""`tuichain lab NAME [ARGS] [--dir D]`: run one scenario on the running devnet."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ..cli.args import Parser
from ..cli.errors import EXIT_FAILURE
from ..devnet.state import default_devnet_dir
from . import SCENARIOS
from .base import LabError, Verdict
from .client import Lab


def _parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {s.name + (' ' + s.usage if s.usage else ''):16} {s.summary}"
                      for s in SCENARIOS.values())
    parser = Parser(prog="tuichain lab", description="Run a network-lab scenario on the "
                    "running devnet, narrated, ending with the rule that decided it.",
                    epilog=f"scenarios:\n{lines}",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(SCENARIOS), metavar="NAME")
    parser.add_argument("args", nargs="*", help="the scenario's arguments (reorg: N)")
    parser.add_argument("--dir", type=Path, default=None, metavar="D",
                        help="the devnet folder (default $TUICHAIN_HOME/devnet)")
    return parser


async def _run(directory: Path, name: str, args: list[str]) -> int:
    async with Lab.open(directory) as lab:
        verdict: Verdict | None = None
        async for step in SCENARIOS[name].run(lab, args):
            if isinstance(step, Verdict):
                verdict = step
                print(step.line(), flush=True)
            else:
                print(step, flush=True)
    return 0 if verdict is not None and verdict.held else EXIT_FAILURE


def lab_main(argv: list[str]) -> int:
    ns = _parser().parse_args(argv)
    directory = (ns.dir or default_devnet_dir()).expanduser().absolute()
    try:
        return asyncio.run(_run(directory, ns.name, ns.args))
    except LabError as exc:
        print(f"tuichain lab: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
