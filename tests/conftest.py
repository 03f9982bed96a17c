"""Project-wide test fixtures: the wire-protocol test servers and a real PostgreSQL server (``postgres_url``)."""

pytest_plugins = ["tests.wire.fixtures", "tests.postgres"]
