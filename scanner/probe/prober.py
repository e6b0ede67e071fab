"""Probe one endpoint: TLS versions, accepted TLS 1.2 suites, preference order, and the policy's handshake.

Blocking by design (sslyze is); `scanner.scan` runs it in worker threads. Every connection first passes the
`gate` (rate limit and deadline), and every connection is closed before the next one opens.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from scanner import catalog
from scanner.models import Endpoint, EndpointStatus, Policy, ProbeMode, ProbeResult, TlsVersion
from scanner.probe.elimination import Elimination, detect_server_preference, eliminate
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
    """Mutable bookkeeping for one endpoint's probe: the target and every connection made."""

    target: Target
    gate: Gate
    connections: int = 0
    notes: list[str] = field(default_factory=list)

    def offer(self, version: TlsVersion, client: Client, suites: Sequence[str] | None) -> Outcome:
        self.gate()
        self.connections += 1
        cipher_string = ":".join(suites) if suites is not None else None
        return handshake(self.target, version, client, cipher_string)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


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
            return ProbeResult(
                endpoint.id,
                EndpointStatus.DNS_ERROR,
                f"cannot resolve {endpoint.host}: {exc.strerror}",
                mode=mode,
            )
        run = _Run(Target(ip, endpoint.port, endpoint.server_name, self.timeout_s), gate)
        try:
            result = self._probe(endpoint, policy, run, mode)
        except DeadlineExceeded as exc:
            result = ProbeResult(
                endpoint.id, EndpointStatus.TIMEOUT, str(exc), ip=ip, connections=run.connections, mode=mode
            )
        except Exception as exc:
            result = ProbeResult(
                endpoint.id,
                EndpointStatus.TLS_ERROR,
                f"unexpected error while probing: {type(exc).__name__}: {exc}",
                ip=ip,
                connections=run.connections,
                mode=mode,
            )
        return _replace_timing(result, run, time.monotonic() - started)

    def _probe(self, endpoint: Endpoint, policy: Policy, run: _Run, mode: ProbeMode) -> ProbeResult:
        ip = run.target.ip
        picks, server_preference, unreachable = self._enumerate_exhaustive(run) if self.exhaustive else _enumerate(run)
        if unreachable is not None:
            return ProbeResult(
                endpoint.id,
                unreachable.status,
                unreachable.reason,
                ip=ip,
                connections=run.connections,
                mode=mode,
            )
        versions = [v for v in _OTHER_VERSIONS if _speaks(run, v)]
        if picks:
            versions.append(TlsVersion.TLSV1_2)
        versions.sort(key=list(TlsVersion).index)
        accepted = _iana_names(picks, run)
        if not server_preference:
            accepted = catalog.strongest_first(accepted)
        base = ProbeResult(
            endpoint.id,
            EndpointStatus.OK,
            ip=ip,
            tls_versions=tuple(versions),
            accepted_tls12=tuple(accepted),
            server_preference=server_preference,
            mode=mode,
        )
        if not picks:
            if versions:
                spoken = ", ".join(versions)
                return _with(base, EndpointStatus.NO_TLS12, f"server does not speak TLS 1.2 (speaks {spoken})")
            reason = run.notes[0] if run.notes else "no TLS handshake succeeded with any version"
            return _with(base, EndpointStatus.TLS_ERROR, reason)
        return _policy_handshake(run, policy, base, accepted, server_preference)

    def _enumerate_exhaustive(self, run: _Run) -> tuple[list[str], bool | None, Unreachable | None]:
        """sslyze's own scan, one handshake per suite; then our order check on what it found."""
        from scanner.probe.exhaustive import sslyze_tls12_scan

        first = run.offer(TlsVersion.TLSV1_2, Client.MODERN, modern_tls12_suites())
        if isinstance(first, Unreachable):
            return [], None, first
        run.gate()
        scan = sslyze_tls12_scan(run.target)
        run.connections += scan.connections
        run.note("connections count sslyze's per-suite handshakes, not its few connectivity-check ones")
        if scan.error:
            run.note(scan.error)
        picks = catalog_sorted_openssl(scan.accepted)
        modern = set(modern_tls12_suites())
        preference, note = _preference(
            run, [p for p in picks if p in modern], [p for p in picks if p not in modern], in_pick_order=False
        )
        if note:
            run.note(note)
        if preference is not True:
            return picks, preference, None
        # The server imposes its order: recover it by elimination over the accepted set (accepted + 1).
        ordered = eliminate(lambda s: run.offer(TlsVersion.TLSV1_2, _client(s), s), _modern_first(picks))
        return list(ordered.picks) or picks, True, None


def _enumerate(run: _Run) -> tuple[list[str], bool | None, Unreachable | None]:
    """Elimination with the modern client, then the legacy one for what only it can offer."""
    modern = eliminate(lambda s: run.offer(TlsVersion.TLSV1_2, Client.MODERN, s), modern_tls12_suites())
    _keep_notes(run, modern)
    if modern.unreachable is not None and not modern.picks:
        return [], None, modern.unreachable
    legacy = eliminate(lambda s: run.offer(TlsVersion.TLSV1_2, Client.LEGACY, s), legacy_only_tls12_suites())
    _keep_notes(run, legacy)
    picks = list(modern.picks) + list(legacy.picks)
    preference, note = _preference(run, modern.picks, legacy.picks)
    if note:
        run.note(note)
    if preference and modern.picks and legacy.picks:
        run.note("server order between modern and legacy-only suites assumed: legacy-only suites last")
    return picks, preference, None


def _preference(
    run: _Run, modern: Sequence[str], legacy: Sequence[str], in_pick_order: bool = True
) -> tuple[bool | None, str | None]:
    """Ask once whether the server imposes its order, with a group of picks that one client can offer."""
    group: Sequence[str] = modern if len(modern) >= 2 else legacy if len(legacy) >= 2 else [*modern, *legacy]
    client = client_for(group)
    if client is None or len(group) < 2:
        return None, None
    return detect_server_preference(lambda s: run.offer(TlsVersion.TLSV1_2, client, s), group, in_pick_order)


def _keep_notes(run: _Run, elimination: Elimination) -> None:
    for note in elimination.notes:
        run.note(note)
    ended = elimination.ended
    if isinstance(ended, Rejected | Unreachable) and not elimination.picks:
        run.note(f"TLS 1.2: {ended.reason}")


def _speaks(run: _Run, version: TlsVersion) -> bool:
    client = Client.MODERN if version is TlsVersion.TLSV1_3 else Client.LEGACY
    outcome = run.offer(version, client, None)
    if isinstance(outcome, Unreachable):
        run.note(f"{version}: {outcome.reason}")
    return isinstance(outcome, Accepted)


def _policy_handshake(
    run: _Run, policy: Policy, base: ProbeResult, accepted: Sequence[str], server_preference: bool | None
) -> ProbeResult:
    """One handshake offering exactly the Selected list, in order, TLS 1.2 only."""
    offered: list[str] = []
    for name in policy.selected:
        suite = catalog.by_name(name)
        if suite.openssl_name and suite.openssl_name in _offerable():
            offered.append(suite.openssl_name)
        else:
            run.note(f"Selected suite {name} cannot be offered by this scanner's TLS clients; left out")
    predicted = predict(policy.selected, accepted, server_preference)
    if not offered:
        return _with(base, EndpointStatus.NO_COMMON_SUITE, "no Selected suite can be offered")
    client = client_for(offered)
    if client is None:
        offered = [n for n in offered if n in modern_tls12_suites()]
        run.note(
            "Selected mixes suites only the legacy client has with ones only the modern client has; "
            "offered the modern ones"
        )
        client = Client.MODERN
    outcome = run.offer(TlsVersion.TLSV1_2, client, offered)
    if isinstance(outcome, Accepted):
        picked = catalog.by_openssl_name(outcome.cipher)
        negotiated = picked.name if picked else outcome.cipher
        if predicted and predicted != negotiated:
            run.note(f"negotiated {negotiated}, but the accepted list predicted {predicted}")
        return _replace(base, negotiated=negotiated)
    if isinstance(outcome, Unreachable):
        return _with(base, outcome.status, f"policy handshake: {outcome.reason}")
    if predicted:
        run.note(f"policy handshake failed ({outcome.reason}) although {predicted} is accepted")
    return _with(
        base,
        EndpointStatus.NO_COMMON_SUITE,
        f"server accepts none of the {len(policy.selected)} Selected suites ({outcome.reason})",
    )


def predict(selected: Sequence[str], accepted: Sequence[str], server_preference: bool | None) -> str | None:
    """The suite a client offering `selected` would get, from what the server accepts and its order."""
    if server_preference:
        wanted = set(selected)
        return next((s for s in accepted if s in wanted), None)
    accepted_set = set(accepted)
    return next((s for s in selected if s in accepted_set), None)


def _offerable() -> set[str]:
    return set(modern_tls12_suites()) | set(legacy_tls12_suites())


def catalog_sorted_openssl(openssl_names: Sequence[str]) -> list[str]:
    """OpenSSL names ordered strongest first by the catalog (unknown names last)."""

    def key(name: str) -> tuple[int, tuple[int, ...]]:
        suite = catalog.by_openssl_name(name)
        return (0, suite.sort_key) if suite else (1, ())

    return sorted(openssl_names, key=key)


def _client(suites: Sequence[str]) -> Client:
    return client_for(suites) or Client.MODERN


def _modern_first(picks: Sequence[str]) -> list[str]:
    modern = set(modern_tls12_suites())
    return [p for p in picks if p in modern] + [p for p in picks if p not in modern]


def _iana_names(openssl_names: Sequence[str], run: _Run) -> list[str]:
    names: list[str] = []
    for name in openssl_names:
        suite = catalog.by_openssl_name(name)
        if suite is None:
            run.note(f"accepted suite {name} is not in the catalog")
            continue
        if suite.name not in names:
            names.append(suite.name)
    return names


def _resolve(endpoint: Endpoint) -> str:
    if endpoint.ip:
        return endpoint.ip
    try:
        return str(ipaddress.ip_address(endpoint.host))
    except ValueError:
        pass
    infos = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    ipv4 = [i for i in infos if i[0] == socket.AF_INET]
    return str((ipv4 or infos)[0][4][0])


def _with(result: ProbeResult, status: EndpointStatus, reason: str) -> ProbeResult:
    return _replace(result, status=status, reason=reason)


def _replace(result: ProbeResult, **changes: object) -> ProbeResult:
    from dataclasses import replace

    return replace(result, **changes)  # type: ignore[arg-type]


def _replace_timing(result: ProbeResult, run: _Run, seconds: float) -> ProbeResult:
    notes = tuple(dict.fromkeys([*result.notes, *run.notes]))
    return _replace(result, connections=run.connections, duration_s=round(seconds, 3), notes=notes)
