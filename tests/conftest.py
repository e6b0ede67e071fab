"""Shared fixtures, and the network rule enforced: tests may connect to loopback only.

Every `socket.connect` and name lookup in the test process goes through a guard that refuses any
address outside 127.0.0.0/8 and ::1, and any name lookup but of address literals and `localhost` (reverse
lookups too, but of loopback addresses): a lookup would send a DNS query to the machine's resolver, which
is not on loopback.

And every verify-all.json and impact.json a test leaves, in its own folder or a module's or session's
(`tmp_path_factory`), must match the shipped JSON Schema of its `schema` tag: checked after each test, which
fails at teardown otherwise (`tests/documents.py`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.config import load_endpoints, load_policy
from scanner.lab.servers import Lab
from scanner.models import Endpoint, Policy
from tests.documents import Checked

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_HOSTS = {e.host for e in load_endpoints(ROOT / "endpoints.yaml")}


class ForbiddenTraffic(AssertionError):
    """A test tried to reach something other than loopback."""


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise ForbiddenTraffic(f"connect to a name {host!r}: resolve to loopback first") from None
        if not ip.is_loopback:
            raise ForbiddenTraffic(f"connect to {host}: tests may only reach loopback")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check_address(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check_address(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name in SHIPPED_HOSTS:
        raise ForbiddenTraffic(f"lookup of {name}, a host of the shipped endpoints.yaml")
    if name is not None and name != "localhost":
        try:
            ipaddress.ip_address(name)
        except ValueError:
            raise ForbiddenTraffic(f"DNS lookup of {name!r}: tests may not query a resolver") from None
    return _real_getaddrinfo(host, *args, **kwargs)


_real_gethostbyaddr = socket.gethostbyaddr


def _guarded_gethostbyaddr(host: str) -> Any:
    """A reverse lookup (what socket.getfqdn and smtplib's default EHLO name make) asks the resolver too."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ForbiddenTraffic(f"reverse DNS lookup of {host!r}: tests may not query a resolver")
    return _real_gethostbyaddr(host)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyaddr", _guarded_gethostbyaddr)


@pytest.fixture(autouse=True)
def history_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where a command's history goes when a test names none: $TLSVERIFY_DB, in the test's own folder (the
    default, reports/tlsverify.sqlite in the current folder, would be the repository's). Tests of the
    default itself take the variable away."""
    path = tmp_path / "out" / "tlsverify.sqlite"
    monkeypatch.setenv("TLSVERIFY_DB", str(path))
    return path


_DOCUMENTS = Checked()
_NOT_SHARED: set[Path] = set()
"""Entries of the base folder never walked again: finished tests' own tmp_path (each checked after its test),
pytest's `...current` links, files."""
_SHARED: set[Path] = set()
"""Folders of module and session fixtures (and of tmp_path_factory.mktemp in a test): walked after every test."""


@pytest.fixture(autouse=True)
def documents_match_their_schemas(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the test: the tlsverify documents under its tmp_path and under the folders module and session
    fixtures made (where the lab's reports go) match their schemas; files seen before are not read again."""
    yield
    _NOT_SHARED.add(tmp_path)
    for entry in tmp_path_factory.getbasetemp().iterdir():
        if entry not in _NOT_SHARED and entry not in _SHARED:
            (_SHARED if entry.is_dir() and not entry.is_symlink() else _NOT_SHARED).add(entry)
    wrong = _DOCUMENTS.check([tmp_path, *sorted(_SHARED)])
    if wrong:
        pytest.fail("documents that do not match their JSON Schema:\n" + "\n".join(wrong), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"tlsverify documents checked against their JSON Schema: {_DOCUMENTS.documents}")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(ROOT / "policy.yaml")


def endpoint(id: str, port: int, **extra: Any) -> Endpoint:
    """An endpoint on the loopback lab, named under .test and connecting to 127.0.0.1."""
    return Endpoint(id=id, name=id, category="lab", host=f"{id}.lab.tlsverify.test", port=port, ip="127.0.0.1", **extra)


def no_gate() -> None:
    """A gate that never waits: single-endpoint probes in tests need no rate limit."""
