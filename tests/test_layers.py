"""Every module on its floor: imports run from higher floors to lower ones, never back.

Floors, lowest first: core < net < node < ui < cli; the package root
(`tuichain/__init__.py`, the version) may be imported from anywhere. Every
import counts, including ones inside functions and under TYPE_CHECKING: a
type-only import of a higher floor is still a dependency pointing the wrong way.
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import tuichain

PACKAGE_DIR = Path(tuichain.__file__).parent
ROOT = "tuichain"

FLOORS = ("core", "net", "node", "ui", "cli")
# Per floor, "x" matches the module x and everything under it, "x*" every name
# that starts with x.
FLOOR_PREFIXES: dict[str, tuple[str, ...]] = {
    "core": ("tuichain.core",),
    "net": ("tuichain.net", "tuichain.server"),
    "node": (
        "tuichain.node", "tuichain.config", "tuichain.logsetup", "tuichain.datadir",
        "tuichain.control", "tuichain.gc_pauses",
    ),
    "ui": (
        "tuichain.app",
        "tuichain.screens",
        "tuichain.widgets",
        "tuichain.actions",
        "tuichain.display",
        "tuichain.messages",
    ),
    "cli": (
        "tuichain.cli",
        "tuichain.devnet",
        "tuichain.lab",
        "tuichain.__main__",
    ),
}


def floor_of(module: str) -> int | None:
    """The floor's rank (0 = core), -1 for the package root, None if unassigned."""
    if module == ROOT:
        return -1
    for rank, floor in enumerate(FLOORS):
        for pattern in FLOOR_PREFIXES[floor]:
            if pattern.endswith("*"):
                if module.startswith(pattern[:-1]):
                    return rank
            elif module == pattern or module.startswith(pattern + "."):
                return rank
    return None


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int


def module_names(package_dir: Path, root: str) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [root, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> list[Import]:
    """Every import of `source` (module `module`), resolved to the module it loads."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            for alias in node.names:
                # `from x import y` loads the submodule x.y if there is one, else x.
                sub = f"{origin}.{alias.name}"
                found.append(Import(module, sub if sub in known else origin, node.lineno))
    return sorted(found, key=lambda imp: imp.line)


def backward_imports(package_dir: Path, root: str = ROOT) -> list[str]:
    """One line per import that points to a higher floor, or from/to an unassigned module."""
    modules = module_names(package_dir, root)
    problems: list[str] = []
    for module, path in modules.items():
        here = floor_of(module)
        if here is None:
            problems.append(f"{module}: on no floor (add it to FLOOR_PREFIXES)")
            continue
        is_package = path.name == "__init__.py"
        for imp in imports_of(module, path.read_text(), is_package, set(modules)):
            if imp.target != root and not imp.target.startswith(root + "."):
                continue
            there = floor_of(imp.target)
            if there is None:
                problems.append(f"{module}:{imp.line} imports {imp.target}, which is on no floor")
            elif there > here:
                problems.append(
                    f"{module}:{imp.line} ({FLOORS[here]}) imports {imp.target} "
                    f"({FLOORS[there]})"
                )
    return problems


def import_circles(package_dir: Path, root: str = ROOT) -> list[list[str]]:
    """Each set of modules that import one another in a circle (any import, at any depth)."""
    modules = module_names(package_dir, root)
    graph = {
        module: {
            imp.target
            for imp in imports_of(module, path.read_text(), path.name == "__init__.py",
                                  set(modules))
            if imp.target in modules and imp.target not in (root, module)
        }
        for module, path in modules.items()
    }
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return [sorted(set(exc.args[1]))]
    return []


def test_no_import_circles() -> None:
    assert import_circles(PACKAGE_DIR) == []


def test_the_circle_check_finds_a_circle_within_one_floor(tmp_path: Path) -> None:
    package_dir = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "net/__init__.py": "",
            "net/manager.py": "from .sync import Engine\n",
            "net/sync.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                           "    from .manager import Manager\n",
        },
    )
    assert import_circles(package_dir) == [["tuichain.net.manager", "tuichain.net.sync"]]


def test_no_module_imports_a_higher_floor() -> None:
    assert backward_imports(PACKAGE_DIR) == []


def _tree(base: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = base / ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return base / ROOT


def test_the_checker_finds_backward_imports_of_every_kind(tmp_path: Path) -> None:
    package_dir = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "node.py": "from .core import ledger\n",
            "app.py": "from . import node\nfrom .cli import main\n",
            "cli/__init__.py": "from .. import app\n",
            "core/__init__.py": "",
            "core/ledger.py": """\
                from __future__ import annotations

                from typing import TYPE_CHECKING

                from .. import __version__

                if TYPE_CHECKING:
                    from ..node import Node


                def show() -> None:
                    import tuichain.app
                """,
            "net/__init__.py": "from tuichain.screens import wallet\n",
        },
    )
    assert backward_imports(package_dir) == [
        "tuichain.app:2 (ui) imports tuichain.cli (cli)",
        "tuichain.core.ledger:8 (core) imports tuichain.node (node)",
        "tuichain.core.ledger:12 (core) imports tuichain.app (ui)",
        "tuichain.net:1 (net) imports tuichain.screens (ui)",
    ]


def test_the_checker_lists_modules_on_no_floor(tmp_path: Path) -> None:
    package_dir = _tree(tmp_path, {"__init__.py": "", "stray.py": "from . import core\n"})
    assert backward_imports(package_dir) == [
        "tuichain.stray: on no floor (add it to FLOOR_PREFIXES)"
    ]


def test_core_loads_no_ui_or_http_library() -> None:
    """In a fresh interpreter: importing all of core pulls in no textual, rich or aiohttp."""
    core = sorted(m for m in module_names(PACKAGE_DIR, ROOT) if floor_of(m) == 0)
    assert "tuichain.core" in core
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {core!r}:
            importlib.import_module(name)
        banned = ("textual", "rich", "aiohttp")
        print(sorted(m for m in sys.modules if m.split(".")[0] in banned))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
