"""A PostgreSQL server a test owns and may stop and start again (the database going away).

The session's server (:mod:`tests.postgres`) is shared by every test, so a
test of an outage starts its own, from the same Debian binaries, on its own
port and data directory; :meth:`OwnPostgres.stop` (``pg_ctl stop -m fast``:
connections are cut) and :meth:`OwnPostgres.start` take it away and bring it
back on the same address.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import _free_port, _pg_bin


class OwnPostgres:
    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed: apt-get install postgresql")
        if importlib.util.find_spec("psycopg") is None:
            pytest.skip("psycopg not installed: pip install 'psycopg[binary]'")
        self.pg_ctl = pg_ctl
        self.run_as: list[str] = []
        self.directory = Path(tempfile.mkdtemp(prefix="hybrid-pg-own-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run the server as")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.directory / "data", _free_port()
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self.run_as, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "log")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(name="own_postgres")
def own_postgres_fixture() -> Iterator[OwnPostgres]:
    """A running PostgreSQL server of this test's own (stopped and removed afterwards)."""
    server = OwnPostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()
