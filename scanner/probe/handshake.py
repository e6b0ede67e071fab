"""One TLS handshake through sslyze's connection machinery, with its exceptions mapped to outcomes.

Each call opens one TCP connection, offers the given suites in the given order, reads what the server
picked and closes the connection before returning, so servers that serve one connection at a time (such as
`openssl s_server`) are never kept waiting.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import cast

from nassl import _nassl
from nassl.legacy_ssl_client import LegacySslClient
from nassl.ssl_client import BaseSslClient, ClientCertificateRequested, OpenSslVersionEnum, SslClient
from sslyze.connection_helpers.tls_connection import SslConnection
from sslyze.errors import (
    ConnectionToServerFailed,
    ConnectionToServerTimedOut,
    ServerRejectedConnection,
    ServerRejectedTlsHandshake,
    ServerTlsConfigurationNotSupported,
    TlsHandshakeTimedOut,
)
from sslyze.server_connectivity import TlsVersionEnum
from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

from scanner import catalog
from scanner.models import EndpointStatus, TlsVersion

_SSLYZE_VERSIONS = {
    TlsVersion.SSLV3: TlsVersionEnum.SSL_3_0,
    TlsVersion.TLSV1_0: TlsVersionEnum.TLS_1_0,
    TlsVersion.TLSV1_1: TlsVersionEnum.TLS_1_1,
    TlsVersion.TLSV1_2: TlsVersionEnum.TLS_1_2,
    TlsVersion.TLSV1_3: TlsVersionEnum.TLS_1_3,
}

# Everything each OpenSSL build can offer, minus PSK and SRP (they need credentials we do not have).
_ALL_TLS12 = "ALL:COMPLEMENTOFALL:-PSK:-SRP"
_TLS13_NAMES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


class Client(StrEnum):
    """Which of nassl's two OpenSSL builds sends the ClientHello."""

    MODERN = "modern"
    LEGACY = "legacy"


@cache
def modern_tls12_suites() -> tuple[str, ...]:
    """OpenSSL names the modern client can offer in TLS 1.2, in OpenSSL's default (strongest first) order."""
    client = SslClient(ssl_version=OpenSslVersionEnum.TLSV1_2)
    client.set_cipher_list(_ALL_TLS12 + "@SECLEVEL=0")
    return tuple(n for n in client.get_cipher_list() if n not in _TLS13_NAMES)


@cache
def legacy_tls12_suites() -> tuple[str, ...]:
    """OpenSSL names the legacy (OpenSSL 1.0.2) client can offer in TLS 1.2."""
    client = LegacySslClient(ssl_version=OpenSslVersionEnum.TLSV1_2)
    client.set_cipher_list(_ALL_TLS12)
    return tuple(client.get_cipher_list())


@cache
def legacy_only_tls12_suites() -> tuple[str, ...]:
    """Suites only the legacy client can offer (static DH/ECDH, DES, export and the like).

    Compared by code point, not name: OpenSSL renamed some suites (EDH-* to DHE-*) between the builds.
    """
    modern = {_code(n) for n in modern_tls12_suites()}
    return tuple(n for n in legacy_tls12_suites() if _code(n) not in modern)


def _code(openssl_name: str) -> int | str:
    suite = catalog.by_openssl_name(openssl_name)
    return suite.code if suite else openssl_name


def client_for(openssl_names: Sequence[str]) -> Client | None:
    """The client that can offer every one of these suites, preferring the cheaper modern one."""
    if set(openssl_names) <= set(modern_tls12_suites()):
        return Client.MODERN
    if set(openssl_names) <= set(legacy_tls12_suites()):
        return Client.LEGACY
    return None


@dataclass(frozen=True)
class Accepted:
    """The server completed (or got far enough into) the handshake and picked `cipher` (OpenSSL name)."""

    cipher: str
    note: str | None = None


@dataclass(frozen=True)
class Rejected:
    """The TCP connection worked but the server refused the handshake (no shared suite or version)."""

    reason: str


@dataclass(frozen=True)
class Unreachable:
    """No TLS conversation was possible at all; probing this endpoint further is pointless."""

    status: EndpointStatus
    reason: str


Outcome = Accepted | Rejected | Unreachable


@dataclass(frozen=True)
class Target:
    """Where and how to connect: the address to dial, the port and the SNI name."""

    ip: str
    port: int
    server_name: str
    timeout_s: float

    @property
    def connection_limit_s(self) -> float:
        """Wall-clock bound on one whole connection: sslyze's timeout is per read, and a server that
        dribbles a byte at a time would otherwise keep a handshake alive for ever."""
        return 2 * self.timeout_s

    def sslyze_settings(self) -> tuple[ServerNetworkLocation, ServerNetworkConfiguration]:
        """The same target as sslyze describes it: dial `ip`, send `server_name` as SNI, no retries."""
        location = ServerNetworkLocation(hostname=self.server_name, port=self.port, ip_address=self.ip)
        network = ServerNetworkConfiguration(
            tls_server_name_indication=self.server_name,
            network_timeout=cast(int, self.timeout_s),  # a float works: it goes to socket.settimeout
            network_max_retries=1,
        )
        return location, network


class DeadlineExceeded(Exception):
    """The endpoint's time budget ran out before the next connection."""


Gate = Callable[[], float]
"""Called before every new connection: waits for the rate limiter and returns the seconds left before the
endpoint's deadline; raises DeadlineExceeded when none are left."""


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
    cipher_string: str | None = None,
    limit_s: float | None = None,
) -> Outcome:
    """One connection: offer `cipher_string` (OpenSSL syntax) at exactly `version`, return what happened.

    The whole connection lasts at most `limit_s` seconds (default: the target's connection limit).
    """
    limit = min(limit_s, target.connection_limit_s) if limit_s is not None else target.connection_limit_s
    if limit < target.timeout_s:  # near the deadline: the TCP connect may not take longer than what is left
        target = replace(target, timeout_s=max(limit, 0.05))
    location, network = target.sslyze_settings()
    try:
        connection = SslConnection(
            server_location=location,
            network_configuration=network,
            tls_version=_SSLYZE_VERSIONS[version],
            should_ignore_client_auth=True,
            should_use_legacy_openssl=client is Client.LEGACY,
        )
    except ValueError as exc:  # e.g. TLS 1.3 asked of the legacy client: a programming error, said plainly
        return Rejected(f"client cannot offer {version}: {exc}")
    ssl_client = connection.ssl_client
    if cipher_string is not None:
        if version is TlsVersion.TLSV1_3 and isinstance(ssl_client, SslClient):
            ssl_client.set_ciphersuites(cipher_string)
        else:
            suffix = "@SECLEVEL=0" if isinstance(ssl_client, SslClient) else ""
            ssl_client.set_cipher_list(cipher_string + suffix)
    elif version is not TlsVersion.TLSV1_3:
        ssl_client.set_cipher_list(_ALL_TLS12 + ("@SECLEVEL=0" if isinstance(ssl_client, SslClient) else ""))
    with _Watchdog(ssl_client, limit) as watchdog:
        outcome = _connect(connection, ssl_client, target)
    if watchdog.fired and not isinstance(outcome, Accepted):
        return Unreachable(EndpointStatus.TIMEOUT, f"connection cut after {limit:.3g} s: the server answers too slowly")
    return outcome


def _connect(connection: SslConnection, ssl_client: BaseSslClient, target: Target) -> Outcome:
    try:
        connection.connect(should_retry_connection=False)
        return Accepted(ssl_client.get_current_cipher_name())
    except ClientCertificateRequested:
        return Accepted(ssl_client.get_current_cipher_name(), note="server asks for a client certificate")
    except ServerTlsConfigurationNotSupported as exc:
        cipher = _current_cipher(ssl_client)
        if cipher:
            return Accepted(cipher, note=f"handshake not completed by the client: {exc.error_message}")
        return Rejected(exc.error_message)
    except ServerRejectedTlsHandshake as exc:
        return Rejected(exc.error_message)
    except TlsHandshakeTimedOut:
        cipher = _current_cipher(ssl_client)
        if cipher:
            return Unreachable(
                EndpointStatus.TIMEOUT,
                f"the server picked {cipher} in its ServerHello, then stopped answering for {target.timeout_s:.3g} s",
            )
        return Unreachable(EndpointStatus.TIMEOUT, f"no answer to the ClientHello within {target.timeout_s:.3g} s")
    except ConnectionToServerTimedOut:
        return Unreachable(
            EndpointStatus.TIMEOUT,
            f"TCP connection to {target.ip}:{target.port} timed out after {target.timeout_s:.3g} s",
        )
    except ServerRejectedConnection:
        return Unreachable(EndpointStatus.UNREACHABLE, f"connection to {target.ip}:{target.port} refused")
    except ConnectionToServerFailed as exc:
        return Unreachable(
            EndpointStatus.UNREACHABLE, f"connection to {target.ip}:{target.port} failed: {exc.error_message}"
        )
    except TimeoutError:
        return Unreachable(EndpointStatus.TIMEOUT, f"server stopped answering within {target.timeout_s:.3g} s")
    except _nassl.OpenSSLError as exc:
        return Rejected(f"TLS error: {_short(str(exc))}")
    except OSError as exc:
        return Rejected(f"connection broken during the handshake: {_short(str(exc))}")
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def _current_cipher(ssl_client: BaseSslClient) -> str | None:
    try:
        name = ssl_client.get_current_cipher_name()
    except Exception:
        return None
    return str(name) if name and name != "(NONE)" else None


def _short(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= 200 else message[:197] + "..."
