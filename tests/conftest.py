"""Project-wide test fixtures: the wire-protocol test servers are available to every test module."""

pytest_plugins = ["tests.wire.fixtures"]
