"""Probe one endpoint: TLS versions, accepted TLS 1.2 suites, preference order, and the policy's handshake.

Blocking by design (sslyze is); `scanner.scan` runs it in worker threads. Every connection first passes the
`gate` (rate limit and deadline), lasts no longer than the time the gate says is left, and is closed
before the next one opens.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol as TypingProtocol

from scanner import catalog
from scanner.impact import negotiate
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeMode, ProbeResult, TlsVersion
from scanner.probe.elimination import (
    Elimination,
    detect_server_preference,
    eliminate,
    eliminate_in_chunks,
    refused_without_alert,
)
from scanner.probe.handshake import (
    Accepted,
    Client,
    DeadlineExceeded,
    Gate,
    Outcome,
    Rejected,
    Target,
    Unreachable,
    client_for,
    handshake,
    legacy_only_tls12_suites,
    legacy_tls12_suites,
    modern_tls12_suites,
)

_OTHER_VERSIONS = (TlsVersion.SSLV3, TlsVersion.TLSV1_0, TlsVersion.TLSV1_1, TlsVersion.TLSV1_3)


class Prober(TypingProtocol):
    """What the scanner needs from a prober; a fake one implements this in orchestration tests."""

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult: ...


@dataclass
class _Run:
    """Bookkeeping for one endpoint's probe: the target, every connection made, notes for the report."""

    target: Target
    gate: Gate
    connections: int = 0
    notes: list[str] = field(default_factory=list)
    small_hellos: bool = False
    hello_slice: int = 32

    def offer(self, version: TlsVersion, client: Client, suites: Sequence[str] | None) -> Outcome:
        remaining = self.gate()
        self.connections += 1
        cipher_string = ":".join(suites) if suites is not None else None
        return handshake(self.target, version, client, cipher_string, limit_s=remaining)

    def offer_tls12(self, client: Client) -> _Offer:
        return lambda suites: self.offer(TlsVersion.TLSV1_2, client, suites)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class _Offer(TypingProtocol):
    def __call__(self, suites: Sequence[str], /) -> Outcome: ...


@dataclass(frozen=True)
class _Enumeration:
    """Accepted suites (OpenSSL names, in pick order), whether the server imposes its order, or why not."""

    picks: list[str]
    server_preference: bool | None
    unreachable: Unreachable | None = None


@dataclass(frozen=True)
class SslyzeProber:
    """Probes with sslyze's connection machinery: elimination by default, or sslyze's own per-suite scan."""

    timeout_s: float = 5.0
    exhaustive: bool = False

    def probe(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        started = time.monotonic()
        mode = ProbeMode.EXHAUSTIVE if self.exhaustive else ProbeMode.ELIMINATION
        try:
            ip = _resolve(endpoint)
        except socket.gaierror as exc:
            reason = f"cannot resolve {endpoint.host}: {exc.strerror}"
            return ProbeResult(endpoint.id, EndpointStatus.DNS_ERROR, reason, mode=mode)
        except (UnicodeError, ValueError) as exc:
            reason = f"{endpoint.host!r} is not a valid host name: {exc}"
            return ProbeResult(endpoint.id, EndpointStatus.DNS_ERROR, reason, mode=mode)
        run = _Run(Target(ip, endpoint.port, endpoint.server_name, self.timeout_s), gate)
        try:
            result = self._probe(endpoint, policy, run, mode)
        except DeadlineExceeded as exc:
            reason = f"{exc} after {run.connections} connections; partial results discarded"
            result = ProbeResult(endpoint.id, EndpointStatus.TIMEOUT, reason, ip=ip, mode=mode)
        except Exception as exc:  # a hostile server must become a result, never a crash
            reason = f"unexpected error while probing: {type(exc).__name__}: {exc}"
            result = ProbeResult(endpoint.id, EndpointStatus.TLS_ERROR, reason, ip=ip, mode=mode)
        notes = tuple(dict.fromkeys([*result.notes, *run.notes]))
        duration = round(time.monotonic() - started, 3)
        return replace(result, connections=run.connections, duration_s=duration, notes=notes)

    def handshake_only(self, endpoint: Endpoint, policy: Policy, gate: Gate) -> ProbeResult:
        """One real handshake offering exactly the policy's Selected list (no enumeration): `negotiated` is
        what the server picked, or None with the reason. For checking predictions."""
        try:
            ip = _resolve(endpoint)
        except (socket.gaierror, UnicodeError, ValueError) as exc:
            return ProbeResult(endpoint.id, EndpointStatus.DNS_ERROR, f"cannot resolve {endpoint.host}: {exc}")
        run = _Run(Target(ip, endpoint.port, endpoint.server_name, self.timeout_s), gate)
        try:
            outcome = _offer_selected(run, policy.selected)
        except DeadlineExceeded as exc:
            outcome = Unreachable(EndpointStatus.TIMEOUT, str(exc))
        if isinstance(outcome, Accepted):
            picked = catalog.by_openssl_name(outcome.cipher)
            result = ProbeResult(
                endpoint.id, EndpointStatus.OK, ip=ip, negotiated=picked.name if picked else outcome.cipher
            )
        elif isinstance(outcome, Unreachable):
            result = ProbeResult(endpoint.id, outcome.status, outcome.reason, ip=ip)
        else:
            reason = outcome.reason if outcome is not None else "no Selected suite can be offered"
            result = ProbeResult(endpoint.id, EndpointStatus.NO_COMMON_SUITE, reason, ip=ip)
        return replace(result, connections=run.connections, notes=tuple(run.notes))

    def _probe(self, endpoint: Endpoint, policy: Policy, run: _Run, mode: ProbeMode) -> ProbeResult:
        found = _enumerate_exhaustive(run) if self.exhaustive else _enumerate(run)
        ip = run.target.ip
        if found.unreachable is not None:
            return ProbeResult(endpoint.id, found.unreachable.status, found.unreachable.reason, ip=ip, mode=mode)
        versions = [v for v in _OTHER_VERSIONS if _speaks(run, v)]
        if found.picks:
            versions.append(TlsVersion.TLSV1_2)
        versions.sort(key=list(TlsVersion).index)
        accepted = _iana_names(found.picks, run)
        if not found.server_preference:
            accepted = catalog.strongest_first(accepted)
        base = ProbeResult(
            endpoint.id,
            EndpointStatus.OK,
            ip=ip,
            tls_versions=tuple(versions),
            accepted_tls12=tuple(accepted),
            server_preference=found.server_preference,
            mode=mode,
        )
        if not found.picks:
            if versions:
                spoken = ", ".join(versions)
                return replace(base, status=EndpointStatus.NO_TLS12, reason=f"server does not speak TLS 1.2 ({spoken})")
            return replace(base, status=EndpointStatus.TLS_ERROR, reason=_no_tls_reason(run))
        return _policy_handshake(run, policy, base)


def _enumerate(run: _Run) -> _Enumeration:
    """Elimination with the modern client, then the legacy one for what only it can offer."""
    modern = _eliminate(run, Client.MODERN, modern_tls12_suites())
    _keep_notes(run, modern, "modern client")
    if modern.unreachable is not None and not modern.picks:
        return _Enumeration([], None, modern.unreachable)
    legacy = _eliminate(run, Client.LEGACY, legacy_only_tls12_suites())
    _keep_notes(run, legacy, "legacy client")
    preference, note = _preference(run, modern.picks, legacy.picks, in_pick_order=not run.small_hellos)
    if note:
        run.note(note)
    picks = [*modern.picks, *legacy.picks]
    if preference and run.small_hellos:
        # Slices keep the server's order only within themselves: one more pass over the accepted suites,
        # if they fit in one hello the server takes.
        if max(len(modern.picks), len(legacy.picks)) <= run.hello_slice:
            picks = [
                *eliminate(run.offer_tls12(Client.MODERN), modern.picks).picks,
                *eliminate(run.offer_tls12(Client.LEGACY), legacy.picks).picks,
            ]
        else:
            run.note("the server's order is known only within each slice of suites offered")
    if preference and modern.picks and legacy.picks:
        run.note("server order between modern and legacy-only suites assumed: legacy-only suites last")
    return _Enumeration(picks, preference)


HELLO_SLICES = (32, 16, 8)
"""Suites per ClientHello for servers that refuse large hellos, tried in turn: 32 make about 220 bytes with
a short host name, under the 255-byte limit some servers and middleboxes have (nassl's hello with every
suite is about 370 bytes); a long SNI name needs the smaller slices."""


def _eliminate(run: _Run, client: Client, suites: Sequence[str]) -> Elimination:
    """Elimination offering every suite at once; if the server closes on that hello without a word (twice,
    so one dropped connection does not count), again with smaller and smaller hellos."""
    offer = run.offer_tls12(client)
    if run.small_hellos:
        return eliminate_in_chunks(offer, suites, run.hello_slice)
    full = eliminate(offer, suites)
    if full.picks or len(suites) <= HELLO_SLICES[-1] or not refused_without_alert(full.ended):
        return full
    again = eliminate(offer, suites)
    if again.picks or not refused_without_alert(again.ended):
        return again
    for size in HELLO_SLICES:
        sliced = eliminate_in_chunks(offer, suites, size)
        if sliced.silent_refusals and size != HELLO_SLICES[-1]:
            continue  # some slices were still too large for it: smaller ones
        if sliced.picks:
            run.small_hellos, run.hello_slice = True, size
            run.note(f"the server refuses large ClientHellos; suites were offered {size} at a time")
            return sliced
        if not sliced.silent_refusals:
            return sliced
    return full


def _enumerate_exhaustive(run: _Run) -> _Enumeration:
    """sslyze's own scan, one handshake per suite; then our order check on what it found."""
    from scanner.probe.exhaustive import sslyze_tls12_scan

    first = run.offer(TlsVersion.TLSV1_2, Client.MODERN, modern_tls12_suites())
    if isinstance(first, Unreachable):
        return _Enumeration([], None, first)
    run.gate()
    scan = sslyze_tls12_scan(run.target)
    run.connections += scan.connections
    run.note("connections count sslyze's per-suite handshakes, not its few connectivity-check ones")
    if scan.error and not scan.accepted:
        run.note(f"{scan.error}; fell back to elimination")
        return _enumerate(run)
    picks = _strongest_first_openssl(scan.accepted)
    modern = set(modern_tls12_suites())
    preference, note = _preference(
        run, [p for p in picks if p in modern], [p for p in picks if p not in modern], in_pick_order=False
    )
    if note:
        run.note(note)
    if preference is not True:
        return _Enumeration(picks, preference)
    # The server imposes its order: recover it by elimination over the accepted set (accepted + 1).
    ordered = [
        *eliminate(run.offer_tls12(Client.MODERN), [p for p in picks if p in modern]).picks,
        *eliminate(run.offer_tls12(Client.LEGACY), [p for p in picks if p not in modern]).picks,
    ]
    return _Enumeration(ordered or picks, True)


def _preference(
    run: _Run, modern: Sequence[str], legacy: Sequence[str], in_pick_order: bool = True
) -> tuple[bool | None, str | None]:
    """Ask whether the server imposes its order, with a group of accepted suites that one client can offer.

    Picks from two separate eliminations are not in one pick order, so a mixed group needs the extra
    handshake of the unordered check; elimination results alone cannot tell.
    """
    if run.small_hellos:  # a hello the server accepts: no more suites than one slice
        modern, legacy = modern[: run.hello_slice], legacy[: run.hello_slice]
    if len(modern) >= 2:
        group, client = modern, Client.MODERN
    elif len(legacy) >= 2:
        group, client = legacy, Client.LEGACY
    else:
        group = [*modern, *legacy]
        mixed_client = client_for(group)
        if len(group) < 2 or mixed_client is None:
            return None, None
        if in_pick_order:
            return None, "server order unknown: its two accepted suites need different TLS clients"
        client = mixed_client
    return detect_server_preference(run.offer_tls12(client), group, in_pick_order)


def _no_tls_reason(run: _Run) -> str:
    """Why no handshake worked, in words an admin can act on, with the first error as the evidence."""
    first = run.notes[0] if run.notes else "no answer recorded"
    lowered = first.lower()
    if "wrong version number" in lowered or "unknown protocol" in lowered or "record layer" in lowered:
        return f"the server does not answer in TLS: plain HTTP or another protocol on this port? ({first})"
    if "rejected the connection" in lowered or "closed the connection" in lowered or "broken" in lowered:
        return f"the server closes or resets every TLS handshake, whatever version and suites are offered ({first})"
    return f"no TLS handshake succeeded with any version ({first})"


def _keep_notes(run: _Run, elimination: Elimination, who: str) -> None:
    for note in elimination.notes:
        run.note(note)
    ended = elimination.ended
    if isinstance(ended, Unreachable) and elimination.picks:
        run.note(f"TLS 1.2 enumeration ({who}) cut short, the accepted list may be incomplete: {ended.reason}")
    elif isinstance(ended, Rejected | Unreachable) and not elimination.picks:
        run.note(f"TLS 1.2 ({who}): {ended.reason}")


# A short list for version probes of servers that refuse large hellos: common suites of every era.
_SMALL_HELLO_SUITES = (
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:"
    "ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA:RC4-SHA:RC4-MD5"
)


def _speaks(run: _Run, version: TlsVersion) -> bool:
    client = Client.MODERN if version is TlsVersion.TLSV1_3 else Client.LEGACY
    small = run.small_hellos and version is not TlsVersion.TLSV1_3
    outcome = run.offer(version, client, _SMALL_HELLO_SUITES.split(":") if small else None)
    if isinstance(outcome, Unreachable):
        run.note(f"{version}: {outcome.reason}")
    return isinstance(outcome, Accepted)


def _offer_selected(run: _Run, selected: Sequence[str]) -> Outcome | None:
    """One handshake offering exactly `selected` (IANA names), in order, TLS 1.2 only; None if none can be."""
    offerable = set(modern_tls12_suites()) | set(legacy_tls12_suites())
    offered: list[str] = []
    for name in selected:
        suite = catalog.resolve(name)
        if suite.openssl_name and suite.openssl_name in offerable:
            offered.append(suite.openssl_name)
        else:
            run.note(f"Selected suite {name} cannot be offered by this scanner's TLS clients; left out")
    if not offered:
        return None
    client = client_for(offered)
    if client is None:
        offered = [n for n in offered if n in modern_tls12_suites()]
        run.note(
            "Selected mixes suites only the legacy client has with ones only the modern one has; offered the latter"
        )
        client = Client.MODERN
    return run.offer(TlsVersion.TLSV1_2, client, offered)


def _policy_handshake(run: _Run, policy: Policy, base: ProbeResult) -> ProbeResult:
    """One handshake offering exactly the Selected list, in order, TLS 1.2 only."""
    predicted = negotiate(policy.selected, base.accepted_tls12, base.server_preference)
    outcome = _offer_selected(run, policy.selected)
    if outcome is None:
        return replace(base, status=EndpointStatus.NO_COMMON_SUITE, reason="no Selected suite can be offered")
    if isinstance(outcome, Accepted):
        picked = catalog.by_openssl_name(outcome.cipher)
        negotiated = picked.name if picked else outcome.cipher
        if predicted and predicted != negotiated:
            run.note(f"negotiated {negotiated}, but the accepted list predicted {predicted}")
        return replace(base, negotiated=negotiated)
    if isinstance(outcome, Unreachable):
        return replace(base, status=outcome.status, reason=f"policy handshake: {outcome.reason}")
    if predicted:
        # The server accepts a Selected suite, yet refused this hello: not a cipher problem.
        reason = f"handshake with the Selected list failed ({outcome.reason}) although the server accepts {predicted}"
        return replace(base, status=EndpointStatus.TLS_ERROR, reason=reason)
    reason = f"server accepts none of the {len(policy.selected)} Selected suites ({outcome.reason})"
    return replace(base, status=EndpointStatus.NO_COMMON_SUITE, reason=reason)


def _strongest_first_openssl(openssl_names: Sequence[str]) -> list[str]:
    def key(name: str) -> tuple[int, tuple[int, ...]]:
        suite = catalog.by_openssl_name(name)
        return (0, suite.sort_key) if suite else (1, ())

    return sorted(openssl_names, key=key)


def _iana_names(openssl_names: Sequence[str], run: _Run) -> list[str]:
    names: list[str] = []
    for name in openssl_names:
        suite = catalog.by_openssl_name(name)
        if suite is None:
            run.note(f"accepted suite {name} is not in the catalog")
        elif suite.name not in names:
            names.append(suite.name)
    return names


def _resolve(endpoint: Endpoint) -> str:
    """The address to dial: the configured `ip`, a literal address, or a lookup (IPv4 preferred)."""
    if endpoint.ip:
        return endpoint.ip
    try:
        return str(ipaddress.ip_address(endpoint.host))
    except ValueError:
        pass
    if endpoint.host.lower().rstrip(".").endswith(".invalid"):
        # RFC 6761: names under .invalid never resolve; do not even ask a resolver.
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (.invalid is never resolvable)")
    endpoint.host.encode("idna")  # raises UnicodeError for an empty or over-long label
    infos = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    ipv4 = [i for i in infos if i[0] == socket.AF_INET]
    return str((ipv4 or infos)[0][4][0])
