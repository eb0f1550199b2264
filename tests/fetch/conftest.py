"""Fixtures of the cache tests: synthetic releases on the local S3 server (tests/s3server.py).

Each test module here loads the server plugin itself (``pytest_plugins``), which
also gives the dummy AWS credentials every test here runs with.
"""

from __future__ import annotations

import pytest

from agea_xr.fetch import location
from agea_xr.testing import write_synthetic

from .helpers import N, unique_prefix


@pytest.fixture(autouse=True)
def _dummy_credentials(aws_env):
    """Every test here runs with dummy AWS credentials (never a real profile)."""


@pytest.fixture
def release(s3_server, tmp_path):
    """Upload a fresh synthetic release under a new prefix: ``make(**kw) -> (url, folder)``."""

    def make(n=N, *, variants=("raw", "processed"), version="2025-03-18", part_size=None):
        folder = write_synthetic(
            tmp_path / unique_prefix("src"), n, variants=variants, version=version
        )
        url = s3_server.upload("agea-test", unique_prefix(), folder, part_size=part_size)
        return url, folder

    return make


@pytest.fixture
def official(s3_server, tmp_path):
    """The official bucket name on the local server: ``make(version) -> folder``."""
    bucket, prefix = "ibl-brain-wide-map-public", "atlas/agea"

    def make(version, n=N, part_size=None):
        s3_server.delete_prefix(bucket, prefix)
        folder = write_synthetic(tmp_path / f"official-{version}-{n}", n, version=version)
        s3_server.upload(bucket, prefix, folder, part_size=part_size)
        return folder

    yield make
    s3_server.delete_prefix(bucket, prefix)


@pytest.fixture
def no_network(monkeypatch):
    """Downloads allowed, but any connection attempt fails the test (it must not happen)."""
    import socket

    monkeypatch.delenv(location.OFFLINE_ENV)
    attempts = []

    def connect(sock, address):
        attempts.append(address)
        raise RuntimeError(f"network used: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(
        socket, "create_connection", lambda address, *a, **k: connect(None, address)
    )
    return attempts
