"""A throwaway PostgreSQL server for the tests: temp data dir, free localhost port, trust auth.

Used two ways:
- ``python tests/pg_server.py run -- CMD...`` (what ``make test`` does): start a server, run
  CMD with ``TEST_DATABASE_URL`` set, always stop the server, exit with CMD's exit code.
- ``PostgresServer`` from tests/conftest.py, when pytest runs without ``TEST_DATABASE_URL``.

initdb refuses to run as root, so as root the server runs as the ``postgres`` user.
Durability is switched off (fsync, full page writes): the data dies with the run anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_USER = "postgres"
BIN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresUnavailable(RuntimeError):
    """The server binaries (or the postgres user, when root) are missing."""


def find_bindir() -> Path:
    """Directory with initdb and pg_ctl: $PG_BINDIR, the newest Debian version, or $PATH."""
    candidates = [os.environ["PG_BINDIR"]] if os.environ.get("PG_BINDIR") else []
    candidates += sorted(glob.glob(BIN_GLOB), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        bindir = Path(candidate)
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BINDIR, {BIN_GLOB} or $PATH; "
        "install the Debian package 'postgresql' (make test does)")


def _version_key(path: str) -> tuple:
    version = Path(path).parent.name
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One server in its own temp dir; ``start()`` then ``stop()`` (also a context manager)."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or find_bindir()
        self.user = SERVER_USER if os.geteuid() == 0 else None
        if self.user:
            try:
                pwd.getpwnam(self.user)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root but there is no '{self.user}' user to run the server as "
                    "(the Debian package 'postgresql' creates it)") from None
        self.tmpdir: Path | None = None
        self.port: int | None = None

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        parent = tempfile.gettempdir()
        if self.user and not os.stat(parent).st_mode & 0o001:
            parent = "/tmp"  # the server user must be able to reach its data dir
        self.tmpdir = Path(tempfile.mkdtemp(prefix="assessment-pg-", dir=parent))
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.tmpdir, account.pw_uid, account.pw_gid)
        try:
            self._run("initdb", "-D", self.datadir, "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
            # Another process may grab the port between free_port() and the bind: retry.
            for attempt in range(5):
                self.port = free_port()
                options = (f"-p {self.port} -k {self.tmpdir} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                           "-c max_connections=200")
                try:
                    self._run("pg_ctl", "-D", self.datadir, "-l", self.logfile, "-o", options,
                              "-w", "-t", "60", "start")
                    return self
                except subprocess.CalledProcessError:
                    if attempt == 4 or "could not bind" not in self._log_tail():
                        raise
        except BaseException as exc:
            detail = self._log_tail()
            self.stop()
            if isinstance(exc, subprocess.CalledProcessError):
                raise RuntimeError(f"PostgreSQL did not start: {exc}\n{exc.output or ''}\n{detail}") from None
            raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the server (if running) and delete its data; safe to call twice."""
        if self.tmpdir is None:
            return
        if (self.datadir / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "-t", "30", "stop")
            except subprocess.CalledProcessError as exc:
                print(f"warning: pg_ctl stop failed: {exc.output}", file=sys.stderr)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self, program: str, *args) -> None:
        command = [str(self.bindir / program), *map(str, args)]
        subprocess.run(command, check=True, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       user=self.user, group=self.user, extra_groups=[] if self.user else None)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, TypeError):
            return ""


def run_with_server(command: list[str]) -> int:
    """Run command with TEST_DATABASE_URL pointing at a fresh server; always stop it."""
    # SIGTERM/SIGHUP become exceptions so the finally clause below still stops the server.
    received = [signal.SIGINT]

    def interrupted(signum, _frame):
        received[0] = signum
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    server = PostgresServer()
    started = time.monotonic()
    try:
        server.start()
        print(f"PostgreSQL {server.bindir.parent.name} on 127.0.0.1:{server.port} "
              f"(started in {time.monotonic() - started:.1f} s)", flush=True)
        env = dict(os.environ, TEST_DATABASE_URL=server.url())
        child = subprocess.Popen(command, env=env)
        try:
            code = child.wait()
            code = 128 - code if code < 0 else code  # killed by a signal: shell convention
            if code:
                print(f"{Path(command[0]).name} exited with {code}", file=sys.stderr)
            return code
        except KeyboardInterrupt:
            child.terminate()
            child.wait()
            return 128 + received[0]
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: python tests/pg_server.py run -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        return run_with_server(argv[2:])
    except PostgresUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # while the server was starting; it has been stopped
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
