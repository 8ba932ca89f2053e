"""A real PostgreSQL server for tests: Debian's `postgresql` package, a cluster made with
`initdb` in a temporary folder, run by `pg_ctl` on a free loopback port, removed afterwards.

The server refuses to run as root, so when the tests run as root (CI) the cluster belongs to
the `postgres` user the package creates, and its commands run through `runuser`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from tests.support.ports import free_loopback_port

BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_loopback_port()
        self.password = secrets.token_urlsafe(16)
        self.folder = Path(tempfile.mkdtemp(prefix="rs-postgres-"))
        self.data = self.folder / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        if not (BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL 15 is not installed (Debian package postgresql)")
        if self._as:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        secret = self.folder / "password"
        secret.write_text(self.password + "\n")
        if self._as:
            os.chown(secret, pwd.getpwnam("postgres").pw_uid, -1)
        self._run(BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "scram-sha-256",
                  "--pwfile", secret, "-E", "UTF8", "--locale", "C.UTF-8")
        secret.unlink()
        self.resume()
        return self

    def resume(self) -> None:
        """Run the server (again, after `halt`) on the same port and data."""
        self._run(BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-w",
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 "
                        f"-c unix_socket_directories={self.folder} -c fsync=off", "start")

    def halt(self) -> None:
        """The database going away: the server stops, its connections are cut; data kept."""
        self._run(BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, *command) -> None:
        subprocess.run([*self._as, *map(str, command)], check=True, capture_output=True,
                       cwd=self.folder)

    # --- databases ----------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its SQLAlchemy URL."""
        import psycopg

        name = "rs_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             password=self.password, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
