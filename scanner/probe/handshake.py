"""nassl's OpenSSL hellos: `first_flight` sends the ClientHello OpenSSL builds and reads to the ServerHello
(the enumeration's OpenSSL pass and the version probes), `handshake` runs a whole handshake through sslyze's
connection machinery (where only a completed one answers the question); failures mapped to outcomes.

Each call opens one TCP connection, offers the given suites in the given order, reads what the server
picked and closes the connection before returning, so servers that serve one connection at a time (such as
`openssl s_server`) are never kept waiting.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from functools import cache
from typing import Any, cast

from nassl import _nassl
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import BaseSslClient, ClientCertificateRequested, OpenSslVersionEnum, SslClient
from sslyze.connection_helpers.opportunistic_tls_helpers import ProtocolWithOpportunisticTlsEnum
from sslyze.connection_helpers.tls_connection import SslConnection
from sslyze.errors import (
    ConnectionToServerFailed,
    ServerRejectedTlsHandshake,
    ServerTlsConfigurationNotSupported,
    TlsHandshakeTimedOut,
)
from sslyze.server_connectivity import TlsVersionEnum
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

from scanner import catalog
from scanner.models import EndpointStatus, TlsVersion
from scanner.probe.channel import SSLYZE_STARTTLS, ChannelFailed, open_channel
from scanner.probe.contract import Target
from scanner.probe.hello import sni_name
from scanner.probe.outcome import Accepted, Outcome, Refusal, Rejected, Unreachable
from scanner.probe.raw import exchange

_SSLYZE_VERSIONS = {
    TlsVersion.SSLV3: TlsVersionEnum.SSL_3_0,
    TlsVersion.TLSV1_0: TlsVersionEnum.TLS_1_0,
    TlsVersion.TLSV1_1: TlsVersionEnum.TLS_1_1,
    TlsVersion.TLSV1_2: TlsVersionEnum.TLS_1_2,
    TlsVersion.TLSV1_3: TlsVersionEnum.TLS_1_3,
}

# Everything each OpenSSL build can offer, minus PSK and SRP (they need credentials we do not have).
_ALL_TLS12 = "ALL:COMPLEMENTOFALL:-PSK:-SRP"


class Client(StrEnum):
    """Which of nassl's two OpenSSL builds sends the ClientHello."""

    MODERN = "modern"
    LEGACY = "legacy"


@cache
def modern_tls12_suites() -> tuple[str, ...]:
    """OpenSSL names the modern client can offer in TLS 1.2, in OpenSSL's default (strongest first) order."""
    client = SslClient(ssl_version=OpenSslVersionEnum.TLSV1_2)
    client.set_cipher_list(_ALL_TLS12 + "@SECLEVEL=0")
    return tuple(n for n in client.get_cipher_list() if n not in _TLS13_CODES)


@cache
def legacy_tls12_suites() -> tuple[str, ...]:
    """OpenSSL names the legacy (OpenSSL 1.0.2) client can offer in TLS 1.2."""
    client = LegacySslClient(ssl_version=OpenSslVersionEnum.TLSV1_2)
    client.set_cipher_list(_ALL_TLS12)
    return tuple(client.get_cipher_list())


@cache
def _names(client: Client) -> dict[int, str]:
    """Code point to this client's OpenSSL name: the builds spell some suites differently (EDH-* and DHE-*),
    so suites are matched by code point, never by name."""
    names = modern_tls12_suites() if client is Client.MODERN else legacy_tls12_suites()
    found: dict[int, str] = {}
    for name in names:
        suite = catalog.by_openssl_name(name)
        if suite is not None:
            found.setdefault(suite.code, name)
    return found


def client_codes(client: Client) -> tuple[int, ...]:
    """The code points this client can offer in TLS 1.2, in OpenSSL's default order."""
    return tuple(_names(client))


@cache
def legacy_only_codes() -> tuple[int, ...]:
    """Suites only the legacy client can offer (static DH/ECDH, DES, export and the like)."""
    modern = set(_names(Client.MODERN))
    return tuple(c for c in _names(Client.LEGACY) if c not in modern)


def sslyze_settings(target: Target) -> tuple[ServerNetworkLocation, ServerNetworkConfiguration]:
    """The target as sslyze describes it: dial `ip`, send the server name as SNI the way a client does (IDNA,
    no trailing dot; for an address none, which `handshake` turns off), the protocol's STARTTLS exchange, no
    retries. `handshake` reaches the server through our own channel (the proxy's tunnel included); sslyze's
    own scan (`exhaustive.py`) uses these settings as they are, so it never goes through a proxy."""
    name = sni_name(target.server_name) or target.ip
    location = ServerNetworkLocation(hostname=name, port=target.port, ip_address=target.ip)
    starttls = SSLYZE_STARTTLS.get(target.protocol)
    network = ServerNetworkConfiguration(
        tls_server_name_indication=name,
        tls_opportunistic_encryption=starttls,
        smtp_ehlo_hostname=socket.gethostname() if starttls is ProtocolWithOpportunisticTlsEnum.SMTP else None,
        network_timeout=cast(int, target.timeout_s),  # a float works: it goes to socket.settimeout
        network_max_retries=1,
    )
    return location, network


class _Connection(SslConnection):
    """sslyze's connection, reaching the server's TLS layer the way the client does (our channel: the proxy's
    tunnel, the protocol's STARTTLS exchange) before nassl's handshake."""

    def __init__(self, target: Target, deadline: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target = target
        self._deadline = deadline

    def _do_pre_handshake(self) -> None:
        self.ssl_client.set_underlying_socket(open_channel(self._target, self._deadline))


class _Watchdog:
    """Shuts a connection's socket down when it outlives its wall-clock limit, so a blocked read returns.

    If the limit passes while the TCP connect is still under way (no socket yet), it looks again every
    20 ms until the socket exists; the connect itself is bounded by the same limit."""

    def __init__(self, ssl_client: BaseSslClient, limit_s: float) -> None:
        self.fired = False
        self._client = ssl_client
        self._done = threading.Event()
        self._timer = self._arm(limit_s)

    def _arm(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._fire)
        timer.daemon = True
        return timer

    def _fire(self) -> None:
        if self._done.is_set():
            return
        sock = self._client.get_underlying_socket()
        if sock is None:
            self._timer = self._arm(0.02)
            self._timer.start()
            return
        self.fired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._timer.cancel()


def handshake(
    target: Target,
    version: TlsVersion,
    client: Client,
    suites: Sequence[int] | None = None,
    limit_s: float | None = None,
) -> Outcome:
    """One connection and a whole handshake: offer `suites` (code points, in order; None for all) at exactly
    `version`. For what only a completed handshake tells (whether a server that asks for a client
    certificate goes on without one); the server's choice alone is `first_flight`'s.

    The whole connection lasts at most `limit_s` seconds (default: the target's connection limit).
    For TLS 1.3, `suites` is ignored: the client offers its TLS 1.3 suites.
    """
    limit = _limit(target, limit_s)
    prepared = _prepare(target, version, client, suites, limit)
    if not isinstance(prepared, _Connection):
        return prepared
    connection, ssl_client = prepared, prepared.ssl_client
    with _Watchdog(ssl_client, limit) as watchdog:
        outcome = _connect(connection, ssl_client, target)
    if watchdog.fired and not isinstance(outcome, Accepted):
        return Unreachable(EndpointStatus.TIMEOUT, f"connection cut after {limit:.3g} s: the server answers too slowly")
    return outcome


def first_flight(
    target: Target,
    version: TlsVersion,
    client: Client,
    suites: Sequence[int] | None = None,
    limit_s: float | None = None,
) -> Outcome:
    """One connection that sends the ClientHello nassl's OpenSSL would send for `handshake` (its very bytes:
    a server answers it as it answers `handshake`), reads the server's answer up to its ServerHello and
    closes there: which suite the server picks at exactly `version`, or why none, in one round trip, without
    the key exchange, the certificate or the Finished messages."""
    limit = _limit(target, limit_s)
    prepared = _prepare(target, version, client, suites, limit)
    if not isinstance(prepared, _Connection):
        return prepared
    try:
        hello = _client_hello_bytes(prepared.ssl_client)
    except _nassl.OpenSSLError as exc:  # OpenSSL could not build a hello (no suite it can offer, say)
        return Rejected(f"the client cannot build this hello: {_short(str(exc))}", Refusal.OTHER)
    outcome = exchange(_within(target, limit), hello, limit, _WIRE_VERSIONS[version])
    if isinstance(outcome, Accepted) and version is not TlsVersion.TLSV1_3:
        offered = set(suites) if suites is not None else set(_names(client))
        if outcome.code not in offered:  # OpenSSL would abort here ("wrong cipher returned")
            return Rejected(f"the server picked suite 0x{outcome.code:04X}, which was not offered", Refusal.OTHER)
    return outcome


_WIRE_VERSIONS = {
    TlsVersion.SSLV3: 0x0300,
    TlsVersion.TLSV1_0: 0x0301,
    TlsVersion.TLSV1_1: 0x0302,
    TlsVersion.TLSV1_2: 0x0303,
    TlsVersion.TLSV1_3: 0x0304,
}


def _client_hello_bytes(ssl_client: BaseSslClient) -> bytes:
    """The records OpenSSL writes when the handshake starts: its ClientHello, taken from the memory BIO
    pair nassl puts between OpenSSL and the socket, before any socket is involved."""
    engine = ssl_client._ssl  # nassl's own objects: the only way to the bytes of the hello OpenSSL builds
    network = ssl_client._network_bio
    with contextlib.suppress(_nassl.WantReadError):  # both builds raise this one
        engine.do_handshake()
    return bytes(network.read(network.pending()))


def _within(target: Target, limit: float) -> Target:
    """Near the deadline, no step of the connection (the TCP connect first) may take longer than what is left."""
    return replace(target, timeout_s=max(limit, 0.05)) if limit < target.timeout_s else target


def _limit(target: Target, limit_s: float | None) -> float:
    return min(limit_s, target.connection_limit_s) if limit_s is not None else target.connection_limit_s


def _prepare(
    target: Target, version: TlsVersion, client: Client, suites: Sequence[int] | None, limit: float
) -> _Connection | Rejected:
    """sslyze's connection for `target`, its nassl client set to offer `suites` at `version`; no socket yet."""
    target = _within(target, limit)
    location, network = sslyze_settings(target)
    try:
        connection = _Connection(
            target,
            time.monotonic() + limit,
            server_location=location,
            network_configuration=network,
            tls_version=_SSLYZE_VERSIONS[version],
            should_ignore_client_auth=True,
            should_use_legacy_openssl=client is Client.LEGACY,
            should_enable_server_name_indication=sni_name(target.server_name) is not None,
        )
    except ValueError as exc:  # e.g. TLS 1.3 asked of the legacy client: a programming error, said plainly
        return Rejected(f"client cannot offer {version}: {exc}")
    ssl_client = connection.ssl_client
    seclevel = "@SECLEVEL=0" if isinstance(ssl_client, SslClient) else ""
    if version is not TlsVersion.TLSV1_3:
        if suites is None:
            ssl_client.set_cipher_list(_ALL_TLS12 + seclevel)
        else:
            names = _names(client)
            ssl_client.set_cipher_list(":".join(names[code] for code in suites if code in names) + seclevel)
    return connection


def _connect(connection: SslConnection, ssl_client: BaseSslClient, target: Target) -> Outcome:
    try:
        connection.connect(should_retry_connection=False)
        return _accepted(ssl_client)
    except ChannelFailed as exc:
        return exc.outcome
    except ClientCertificateRequested:
        return _accepted(ssl_client, note="server asks for a client certificate")
    except ServerTlsConfigurationNotSupported as exc:
        if _current_cipher(ssl_client):
            return _accepted(ssl_client, note=f"handshake not completed by the client: {exc.error_message}")
        return Rejected(exc.error_message, _refusal(exc.error_message))
    except ServerRejectedTlsHandshake as exc:
        return Rejected(exc.error_message, _refusal(exc.error_message))
    except TlsHandshakeTimedOut:
        cipher = _current_cipher(ssl_client)
        if cipher:
            return Unreachable(
                EndpointStatus.TIMEOUT,
                f"the server picked {cipher} in its ServerHello, then stopped answering for {target.timeout_s:.3g} s",
            )
        return Unreachable(EndpointStatus.TIMEOUT, f"no answer to the ClientHello within {target.timeout_s:.3g} s")
    except ConnectionToServerFailed as exc:  # our channel classifies its own failures: a safety net
        return Unreachable(EndpointStatus.UNREACHABLE, f"connection to {target.address} failed: {exc.error_message}")
    except TimeoutError:
        return Unreachable(EndpointStatus.TIMEOUT, f"server stopped answering within {target.timeout_s:.3g} s")
    except _nassl.OpenSSLError as exc:
        message = _short(str(exc))
        return Rejected(f"TLS error: {message}", _refusal(message))
    except ConnectionResetError as exc:
        return Rejected(f"connection reset during the handshake: {_short(str(exc))}", Refusal.RESET)
    except OSError as exc:
        return Rejected(f"connection broken during the handshake: {_short(str(exc))}", Refusal.CLOSED)
    finally:
        with contextlib.suppress(Exception):
            connection.close()


# sslyze's and OpenSSL's wording, read here and nowhere else: (phrase, kind), first match wins.
_REFUSALS = (
    ("rejected the connection", Refusal.RESET),
    ("interrupted the tls handshake", Refusal.CLOSED),
    ("closed the connection", Refusal.CLOSED),
    ("shut down", Refusal.CLOSED),
    ("wrong version number", Refusal.NOT_TLS),
    ("wrong ssl version", Refusal.NOT_TLS),
    ("unknown protocol", Refusal.NOT_TLS),
    ("record layer", Refusal.NOT_TLS),
    ("alert", Refusal.ALERT),
    ("no cipher", Refusal.ALERT),
)


def _refusal(message: str) -> Refusal:
    lowered = message.lower()
    return next((kind for phrase, kind in _REFUSALS if phrase in lowered), Refusal.OTHER)


_TLS13_CODES = {
    "TLS_AES_128_GCM_SHA256": 0x1301,
    "TLS_AES_256_GCM_SHA384": 0x1302,
    "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
    "TLS_AES_128_CCM_SHA256": 0x1304,
    "TLS_AES_128_CCM_8_SHA256": 0x1305,
}


def _accepted(ssl_client: BaseSslClient, note: str | None = None) -> Outcome:
    name = _current_cipher(ssl_client)
    if name in _TLS13_CODES:
        return Accepted(_TLS13_CODES[name], note)
    suite = catalog.by_openssl_name(name) if name else None
    if suite is None:
        return Rejected(f"the server picked {name or 'no suite'}, which the catalog does not know", Refusal.OTHER)
    return Accepted(suite.code, note)


def _current_cipher(ssl_client: BaseSslClient) -> str | None:
    try:
        name = ssl_client.get_current_cipher_name()
    except Exception:
        return None
    return str(name) if name and name != "(NONE)" else None


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= 200 else message[:197] + "..."
