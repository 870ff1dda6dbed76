"""A throwaway PostgreSQL cluster: initdb + pg_ctl in a temporary directory.

Used by the test fixtures (tests/conftest.py) and by the benches (`--db both`).
The cluster listens on a free port of 127.0.0.1 only, keeps its unix socket in
its own directory, trusts local connections (nothing but this machine's own
processes can reach it, and it lives only as long as the run) and is removed
when stopped. PostgreSQL refuses to run as root, so under root the server runs
as a dedicated system user, created on first use.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

SYSTEM_USER = "tuichain-pg"
SUPERUSER = "tuichain"
# How long pg_ctl may take to bring the server up: a shared, loaded machine is slow.
START_TIMEOUT_S = 120
BINDIR_ENV = "TUICHAIN_PG_BINDIR"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")


class ClusterError(RuntimeError):
    """No PostgreSQL server could be started here; the message says why."""


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: $TUICHAIN_PG_BINDIR if set
    (then only there), else PATH, then pg_config, then Debian's
    /usr/lib/postgresql/<version>/bin (newest version first)."""
    forced = os.environ.get(BINDIR_ENV)
    if forced:
        if all((Path(forced) / tool).is_file() for tool in SERVER_TOOLS):
            return Path(forced)
        raise ClusterError(f"{BINDIR_ENV}={forced} does not hold {', '.join(SERVER_TOOLS)}")
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    versions.sort(key=lambda p: _version_key(Path(p).parent.name), reverse=True)
    candidates.extend(Path(p) for p in versions)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in SERVER_TOOLS):
            return bindir
    raise ClusterError(
        "PostgreSQL's server programs (initdb, pg_ctl, postgres) were not found on PATH, "
        "via pg_config --bindir, or in /usr/lib/postgresql/*/bin: install them "
        "(Debian: apt-get install -y postgresql), or run .ci/run, which does"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _server_user() -> pwd.struct_passwd | None:
    """The account to run the server as: None (ourselves) unless we are root, which
    initdb refuses; then the dedicated system user, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    nologin = shutil.which("nologin") or "/usr/sbin/nologin"
    proc = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", nologin, SYSTEM_USER],
        capture_output=True,
        text=True,
    )
    # Another process may have created it meanwhile (exit 9: the name is taken).
    if proc.returncode not in (0, 9):
        raise ClusterError(f"could not create the system user {SYSTEM_USER}: {proc.stderr}")
    return pwd.getpwnam(SYSTEM_USER)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One running cluster. `durable=False` turns fsync off: right for tests, whose
    crashes are of client processes (the server's page cache survives them), not of
    the machine. Benches keep fsync on and turn off only synchronous_commit, the
    same promise SQLite's WAL with synchronous=NORMAL makes (a power cut may lose
    the last commits, never tear one)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bindir = find_bindir()
        self.user = _server_user()
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="tuichain-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.log = self.root / "server.log"
        self.running = False

    # -- life -----------------------------------------------------------------

    def start(self) -> PgCluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.sock.mkdir()
        if self.user is not None:
            # The server's user must own everything it writes; the directory is
            # made by mkdtemp (0700), so nobody else can look in.
            for path in (self.root, self.sock):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self._run(
            "initdb",
            "-D", str(self.data),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.sock),
            "max_connections": "200",
            "fsync": "on" if self.durable else "off",
            "synchronous_commit": "off",
            "full_page_writes": "on" if self.durable else "off",
            "log_min_messages": "warning",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tuichain throwaway cluster\n")
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")
        # A port picked free can be taken before the server binds it: try a few.
        last = ""
        for _ in range(5):
            self.port = free_port()
            proc = self._run(
                "pg_ctl",
                "-D", str(self.data),
                "-l", str(self.log),
                "-o", f"-p {self.port}",
                "-w",
                "-t", str(START_TIMEOUT_S),
                "start",
                check=False,
            )
            if proc.returncode == 0:
                self.running = True
                return
            last = proc.stdout + proc.stderr + self._log_tail()
            if "could not bind" not in last and "already in use" not in last:
                break
        raise ClusterError(f"pg_ctl could not start a PostgreSQL server:\n{last}")

    def stop(self) -> None:
        """Stop the server (immediate: its data is thrown away) and remove its files."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False)
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its DSN. template0 is never connected to,
        so copying it cannot wait on another session."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            # FORCE: a test that leaked a connection must not keep its database alive.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        dsn = self.create_database()
        try:
            yield dsn
        finally:
            self.drop_database(dsn.rsplit("/", 1)[1])

    # -- helpers --------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C", LANG="C")
        kwargs: dict[str, object] = {}
        if self.user is not None:
            env["HOME"] = str(self.root)
            env["USER"] = env["LOGNAME"] = self.user.pw_name
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        try:
            proc = subprocess.run(
                [str(self.bindir / tool), *args],
                capture_output=True,
                text=True,
                env=env,
                cwd=self.root,
                timeout=START_TIMEOUT_S + 60,
                **kwargs,  # type: ignore[call-overload]
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ClusterError(f"{tool} could not run: {exc}") from exc
        if check and proc.returncode != 0:
            raise ClusterError(
                f"{tool} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )
        return proc

    def _log_tail(self) -> str:
        try:
            return "\n--- server log ---\n" + self.log.read_text()[-4000:]
        except OSError:
            return ""
