"""Node configuration: command-line values over state.toml over settings.toml.

settings.toml belongs to the user and is only ever read; state.toml belongs to
the node. A flag applies to the run it is given for and is stored nowhere.
"""

from __future__ import annotations

import os
import threading
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from .core.params import NetworkParams, get_network
from .core.policy import Policy

SETTINGS_FILE = "settings.toml"  # the user's: read, never written
STATE_FILE = "state.toml"  # the node's: dashboard changes, network, last port
LOG_FILE = "node.log"
MAX_PORT = 65535
# Listening below this needs root on Linux (net.ipv4.ip_unprivileged_port_start).
FIRST_UNPRIVILEGED_PORT = 1024


def port_not_allowed(port: int) -> str:
    """What to tell a user the OS would not let listen on `port` (EACCES)."""
    return (
        f"not allowed to listen on port {port}: "
        f"choose a port from {FIRST_UNPRIVILEGED_PORT} to {MAX_PORT}"
    )


def tuichain_home() -> Path:
    return Path(os.environ.get("TUICHAIN_HOME", Path.home() / ".tuichain"))


def default_data_dir(port: int, network: str) -> Path:
    """Per-port directory like the original app's per-port files, under $TUICHAIN_HOME."""
    name = str(port) if network == "default" else f"{network}-{port}"
    return tuichain_home() / name


def devnet_data_dir(index: int) -> Path:
    """Node `index` (from 1) of the devnet under $TUICHAIN_HOME (see tuichain.devnet)."""
    return tuichain_home() / "devnet" / f"node{index}"


# A directory holding any of these has been used by a node or a wallet.
_NODE_FILES = ("chain.sqlite3", "wallet.json", STATE_FILE, SETTINGS_FILE)


def existing_data_dirs(home: Path | None = None) -> list[str]:
    """Node data directories under $TUICHAIN_HOME, relative to it ('5000', 'regtest-5001',
    'devnet/node2'), so an error about a missing one can name those that exist."""
    root = home or tuichain_home()
    found: list[str] = []
    for parent, prefix in ((root, ""), (root / "devnet", "devnet/")):
        try:
            children = sorted(parent.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_dir() and any((child / name).exists() for name in _NODE_FILES):
                found.append(prefix + child.name)
    return found


@dataclass
class NodeConfig:
    port: int
    data_dir: Path
    network: NetworkParams
    host: str = "127.0.0.1"
    peers: list[str] = field(default_factory=list)
    mine: bool = False
    miner_workers: int = 1
    mining_pace: float | None = None
    target_outbound: int = 8
    advertise_url: str | None = None
    # False (--no-wallet): run without a wallet and never read wallet.json.
    use_wallet: bool = True
    automine: bool = False  # regtest: mine a block as soon as a payment arrives
    block_time: float | None = None  # regtest: mine a block every this many seconds
    theme: str | None = None  # the dashboard's, from state.toml or settings.toml
    # The chain's PostgreSQL server (a postgresql:// URL), or None for SQLite in the
    # data directory. Kept out of repr: the URL may hold a password.
    database: str | None = field(default=None, repr=False)

    @property
    def policy(self) -> Policy:
        """The network's default policy with this node's --mining-pace, if given."""
        policy = Policy.for_network(self.network)
        return policy if self.mining_pace is None else replace(policy, mining_pace=self.mining_pace)


class SettingsError(Exception):
    pass


# What each file may hold, and the type a value must have. settings.toml is the
# user's (hand-edited, comments and all): the node only reads it. state.toml is
# the node's own: what the user changed inside the dashboard and what the
# directory is (its network, where its node last listened), rewritten at will.
_SETTINGS_KEYS: dict[str, tuple[type, str]] = {
    "network": (str, "a network name"),
    "host": (str, "an address to listen on"),
    "port": (int, "a port number"),
    "peers": (list, "a list of peer URLs"),
    "miner_workers": (int, "a whole number of at least 1"),
    "theme": (str, "a theme name"),
}
# The node never records where its chain is: that is the user's choice alone.
_STATE_KEYS = dict(_SETTINGS_KEYS)
_SETTINGS_KEYS["database"] = (str, "a postgresql://user@host:port/dbname URL")
DB_ENV = "TUICHAIN_DB"
_DB_SCHEMES = ("postgresql://", "postgres://")


def check_database_url(text: str) -> str:
    """``text`` if it is a PostgreSQL URL; ValueError (without the text, which may hold a
    password) if not."""
    if not text.startswith(_DB_SCHEMES):
        raise ValueError("expected a postgresql://user@host:port/dbname URL "
                         "(leave it out for SQLite in the data directory)")
    return text
# One read-merge-write of state.toml at a time (the dashboard saves from threads).
_STATE_LOCK = threading.Lock()


def _read_toml(path: Path, keys: dict[str, tuple[type, str]]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    for key, value in data.items():
        if key not in keys:
            continue  # unknown keys are the user's business (or a newer version's)
        kind, what = keys[key]
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if ok and key == "peers":
            ok = all(isinstance(p, str) for p in value)
        if ok and key == "miner_workers":
            ok = value >= 1
        if ok and key == "port":
            ok = 0 <= value <= MAX_PORT
        if ok and key == "database":
            ok = value.startswith(_DB_SCHEMES)
        if not ok:
            shown = "..." if key == "database" else repr(value)  # it may hold a password
            raise SettingsError(f"bad value in {path}: {key} = {shown} (expected {what})")
    return data


def load_settings(data_dir: Path) -> dict[str, Any]:
    """The user's settings.toml, checked key by key; never written by the node."""
    return _read_toml(data_dir / SETTINGS_FILE, _SETTINGS_KEYS)


def load_state(data_dir: Path) -> dict[str, Any]:
    """The node's state.toml (dashboard changes, the directory's network)."""
    return _read_toml(data_dir / STATE_FILE, _STATE_KEYS)


def load_stored(data_dir: Path) -> dict[str, Any]:
    """settings.toml with state.toml over it: the dashboard's later choices win."""
    return {**load_settings(data_dir), **load_state(data_dir)}


def save_state(data_dir: Path, **changes: Any) -> None:
    """Merge `changes` into state.toml, atomically so a crash never leaves half a file.

    Blocking file I/O: call it off the event loop (asyncio.to_thread).
    """
    with _STATE_LOCK:
        data_dir.mkdir(parents=True, exist_ok=True)
        state = load_state(data_dir)
        state.update(changes)
        path = data_dir / STATE_FILE
        tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_bytes(tomli_w.dumps(state).encode())
        os.replace(tmp, path)


def remember_peer(data_dir: Path, url: str) -> None:
    """A peer added in the dashboard is dialled again at the next start."""
    with _STATE_LOCK:
        peers = [p for p in load_state(data_dir).get("peers", []) if p != url]
    save_state(data_dir, peers=[*peers, url])


def stored_network(data_dir: Path) -> str | None:
    """The network this directory belongs to, as state.toml (or settings.toml) records it."""
    network = load_stored(data_dir).get("network")
    return network if isinstance(network, str) else None


def build_config(
    *, port: int, host: str | None = None, data_dir: Path | None = None,
    network: str | None = None, peers: list[str] | None = None, mine: bool = False,
    miner_workers: int | None = None, mining_pace: float | None = None,
    use_wallet: bool = True, database: str | None = None,
) -> NodeConfig:
    """Command-line values (for this run only) over state.toml over settings.toml.

    The database: ``database`` (--db), else $TUICHAIN_DB, else settings.toml's.

    Writes nothing: see record_start for what a started node remembers.
    """
    net_name = network or "default"
    directory = data_dir or default_data_dir(port, net_name)
    settings = load_settings(directory)
    state = load_state(directory)
    stored = {**settings, **state}
    if network is None and isinstance(stored.get("network"), str):
        net_name = stored["network"]
    try:
        params = get_network(net_name)
    except ValueError as exc:
        source = STATE_FILE if "network" in state else SETTINGS_FILE
        raise SettingsError(f"bad value in {directory / source}: network: {exc}") from None
    workers = miner_workers or int(stored.get("miner_workers", 1))
    # Peers: this run's --peer, the user's settings.toml, then those added in
    # the dashboard (state.toml). Only the last two outlive the run.
    saved_peers = [*settings.get("peers", []), *state.get("peers", [])]
    all_peers = list(dict.fromkeys([*(peers or []), *saved_peers]))
    theme = stored.get("theme")
    if database is None and os.environ.get(DB_ENV):
        try:
            database = check_database_url(os.environ[DB_ENV])
        except ValueError as exc:
            raise SettingsError(f"bad ${DB_ENV}: {exc}") from None
    if database is None and isinstance(settings.get("database"), str):
        database = settings["database"]
    return NodeConfig(
        port=port, data_dir=directory, network=params,
        host=host or str(settings.get("host", "127.0.0.1")), peers=all_peers, mine=mine,
        miner_workers=max(1, workers), mining_pace=mining_pace, use_wallet=use_wallet,
        theme=theme if isinstance(theme, str) else None, database=database,
    )


def record_start(config: NodeConfig) -> None:
    """Remember in state.toml what this directory is and where its node listens.

    The network ties the directory to its chain; port and host let `tuichain
    wallet --data-dir DIR` find the node without being told. Called once the
    address is known to be usable, so a failed --host is never remembered, and
    the node never reads host or port back from here.
    """
    save_state(config.data_dir, network=config.network.name, port=config.port, host=config.host)
