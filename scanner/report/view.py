"""The view-model helpers shared by the formatters: strings derived from the models."""

from __future__ import annotations

from scanner import catalog
from scanner.models import EndpointFinding, host_port


def address(f: EndpointFinding) -> str:
    """host/ip:port, as the vendor's hover text shows an endpoint (`[ip]:port` for IPv6); behind a proxy
    the probe dials no address of the server's, so host:port."""
    ip = f.probe.ip or f.endpoint.ip
    if ip and ip != f.endpoint.host and f.endpoint.proxy is None:
        return f"{f.endpoint.host}/{host_port(ip, f.endpoint.port)}"
    return host_port(f.endpoint.host, f.endpoint.port)


def hover_text(count: int, verb: str, since: str, addresses: list[str]) -> str:
    """The vendor's hover wording, kept as the vendor writes it (`1 endpoints` included): 'N endpoints have
    negotiated this cipher since DATE · Endpoints: ...'; `since` is "since DATE", or "after the change"."""
    return f"{count} endpoints {verb} this cipher {since} · Endpoints: {' '.join(addresses)}"


def jsse(name: str) -> str:
    return catalog.resolve(name).jsse_name


def client_certificate_text(kind: str) -> str:
    """What a server's request for a client certificate means for the client."""
    if kind == "required":
        return "the server requires a client certificate: the client connects only if it presents one the server trusts"
    if kind == "optional":
        return (
            "the server asks for a client certificate; the TLS handshake completes without one, though the "
            "application behind it may still refuse such a client (nginx answers 400)"
        )
    return "the server asks for a client certificate (whether it refuses a client without one is not known)"


def change_value(value: object) -> str:
    """A change's before or after value as a cell shows it: lists joined, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return " · ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def iana(name: str) -> str:
    """The IANA name of a suite given by any of its names."""
    return catalog.resolve(name).name


def grade(name: str) -> str:
    """What the page says of a suite's strength, in `policy check`'s words: "secure", "insecure (3DES)", or
    what it lacks ("no forward secrecy")."""
    return catalog.resolve(name).grade


def strength(name: str) -> str:
    """ "secure", "weak" or "insecure"."""
    return catalog.resolve(name).strength.value
