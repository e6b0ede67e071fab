"""The guard in conftest really stops traffic that is not loopback."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import SHIPPED_HOSTS, ForbiddenTraffic


def test_connect_outside_loopback_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(ForbiddenTraffic):
        sock.connect(("192.0.2.1", 443))


def test_shipped_hosts_cannot_be_resolved() -> None:
    assert "api.push.apple.com" in SHIPPED_HOSTS
    with pytest.raises(ForbiddenTraffic):
        socket.getaddrinfo("api.push.apple.com", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_dns_lookups_are_refused() -> None:
    with pytest.raises(ForbiddenTraffic):
        socket.getaddrinfo("example.org", 443)
