"""Node configuration: command-line values over settings.toml in the data directory."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from .core.params import NetworkParams, get_network
from .core.policy import Policy

SETTINGS_FILE = "settings.toml"
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


def default_data_dir(port: int, network: str) -> Path:
    """Per-port directory like the original app's per-port files, under $TUICHAIN_HOME."""
    home = Path(os.environ.get("TUICHAIN_HOME", Path.home() / ".tuichain"))
    name = str(port) if network == "default" else f"{network}-{port}"
    return home / name


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

    @property
    def policy(self) -> Policy:
        """The network's default policy with this node's --mining-pace, if given."""
        policy = Policy.for_network(self.network)
        return policy if self.mining_pace is None else replace(policy, mining_pace=self.mining_pace)


class SettingsError(Exception):
    pass


def load_settings(data_dir: Path) -> dict[str, Any]:
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None


def save_settings(data_dir: Path, settings: dict[str, Any]) -> None:
    """Write atomically so a crash never leaves half a settings file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SETTINGS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(tomli_w.dumps(settings).encode())
    os.replace(tmp, path)


def build_config(
    *, port: int, host: str | None = None, data_dir: Path | None = None,
    network: str | None = None, peers: list[str] | None = None, mine: bool = False,
    miner_workers: int | None = None, mining_pace: float | None = None,
    use_wallet: bool = True,
) -> NodeConfig:
    """Merge command-line values (when given) over the stored settings, then store them."""
    net_name = network or "default"
    directory = data_dir or default_data_dir(port, net_name)
    stored = load_settings(directory)
    if network is None and isinstance(stored.get("network"), str):
        net_name = stored["network"]
    params = get_network(net_name)
    workers = miner_workers or int(stored.get("miner_workers", 1))
    stored_peers = [p for p in stored.get("peers", []) if isinstance(p, str)]
    all_peers = list(dict.fromkeys([*(peers or []), *stored_peers]))
    config = NodeConfig(
        port=port, data_dir=directory, network=params,
        host=host or str(stored.get("host", "127.0.0.1")), peers=all_peers, mine=mine,
        miner_workers=max(1, workers), mining_pace=mining_pace, use_wallet=use_wallet,
    )
    stored.update({"network": net_name, "port": port, "host": config.host,
                   "miner_workers": config.miner_workers, "peers": all_peers})
    save_settings(directory, stored)
    return config
