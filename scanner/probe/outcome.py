"""What one probe connection ended with, as plain values: no sslyze or socket types cross this line.

Every failure is classified once, where the connection is made (`handshake.py` for sslyze's, `raw.py` for
our own ClientHello), into a `Refusal` kind; other modules read the kind, never an error's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scanner.models import EndpointStatus


class Refusal(StrEnum):
    """How a server turned a handshake down."""

    ALERT = "alert"
    """A TLS alert: the server answered, and said no (no shared suite or version, for one)."""
    CLOSED = "closed"
    """The connection was closed without an alert (a FIN): what servers and middleboxes that choke on a
    large ClientHello do."""
    RESET = "reset"
    """The connection was reset (an RST) during the handshake."""
    NOT_TLS = "not_tls"
    """The server answered, but not in TLS (plain HTTP, another protocol, or an older SSL)."""
    OTHER = "other"


@dataclass(frozen=True)
class Accepted:
    """The server picked the suite with code point `code` (and, for a full handshake, completed it)."""

    code: int
    note: str | None = None
    asks_certificate: bool = False
    """The server's first flight held a CertificateRequest (known only when the whole flight was read)."""
    certificates: tuple[bytes, ...] = ()
    """The server's certificate chain (DER, leaf first), when the whole flight was read."""


@dataclass(frozen=True)
class Rejected:
    """The TCP connection worked but the server refused the handshake."""

    reason: str
    kind: Refusal = Refusal.OTHER

    @property
    def silent(self) -> bool:
        """Closed or reset instead of a TLS alert (a server without a shared suite says so with an alert)."""
        return self.kind in (Refusal.CLOSED, Refusal.RESET)


@dataclass(frozen=True)
class Unreachable:
    """No TLS conversation was possible at all; probing this endpoint further is pointless."""

    status: EndpointStatus
    reason: str
    tls_suspected: bool = False
    """A STARTTLS exchange got no answer in its protocol at all (silence, or a close): what a TLS server on
    a STARTTLS port does, waiting for a ClientHello."""


Outcome = Accepted | Rejected | Unreachable
