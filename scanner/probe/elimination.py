"""Find every suite a server accepts by elimination, and whether the server imposes its own order.

Pure logic over an `offer` function (one handshake per call), so it is tested without sockets. Offer many
suites, note the one the server picks, remove it and offer the rest again: accepted + 1 handshakes per
client. When the server enforces its own preference, the picks come out in the server's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from scanner.probe.outcome import Accepted, Outcome, Rejected, Unreachable

Offer = Callable[[Sequence[int]], Outcome]
"""One handshake offering these suites (code points), in this order."""


@dataclass(frozen=True)
class Elimination:
    """The picks in the order the server made them, and how the last offer ended."""

    picks: tuple[int, ...]
    ended: Outcome | None
    notes: tuple[str, ...] = ()
    silent_refusals: int = 0  # slices the server closed on without an alert (too large a hello?)
    cut_short: str | None = None
    """Why the elimination may have ended before the server's last suite: it stopped answering at all."""

    @property
    def unreachable(self) -> Unreachable | None:
        return self.ended if isinstance(self.ended, Unreachable) else None


def eliminate(offer: Offer, candidates: Sequence[int]) -> Elimination:
    """Offer `candidates` (in order) until the server refuses what is left or nothing is left.

    A close, reset or silence after picks is asked about twice more before it counts: the same offer again
    (a flaky server or a rate limiter answers it now: go on), then a suite the server did take (taken:
    the silence meant "no more", as some servers say it; refused too: the server stopped serving, and the
    elimination is cut short, its list incomplete)."""
    remaining = list(candidates)
    picks: list[int] = []
    notes: list[str] = []
    ended: Outcome | None = None
    cut_short = None
    while remaining:
        outcome = offer(remaining)
        if picks and _silent(outcome):
            outcome = offer(remaining)
            if isinstance(outcome, Accepted):
                _note(notes, "a connection was closed or reset part-way through the enumeration; asked again")
            elif _silent(outcome):
                confirm = offer([picks[0]])
                if not isinstance(confirm, Accepted):
                    reason = confirm.reason if isinstance(confirm, Rejected | Unreachable) else "no answer"
                    cut_short = f"the server stopped answering after {len(picks)} suite(s) were found ({reason})"
                    notes.append(f"enumeration cut short: {cut_short}; the accepted list is incomplete")
        if isinstance(outcome, Accepted):
            if outcome.note:
                _note(notes, outcome.note)
            if outcome.code not in remaining:
                notes.append(f"server picked suite 0x{outcome.code:04X}, which was not offered; enumeration stopped")
                ended = outcome
                break
            picks.append(outcome.code)
            remaining.remove(outcome.code)
            continue
        ended = outcome
        break
    return Elimination(tuple(picks), ended, tuple(notes), cut_short=cut_short)


def _silent(outcome: Outcome) -> bool:
    return isinstance(outcome, Unreachable) or (isinstance(outcome, Rejected) and outcome.silent)


def _note(notes: list[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def detect_server_preference(
    offer: Offer, picks: Sequence[int], in_pick_order: bool = True
) -> tuple[bool | None, str | None]:
    """Offer the picks reversed: the server's favourite again means it imposes its own order.

    `picks` must be in the order an elimination produced them (one handshake). Otherwise
    (`in_pick_order=False`) one more handshake first learns which of them the server picks.
    Returns (server_preference, note). With fewer than two suites the question has no answer (None).
    """
    if len(picks) < 2:
        return None, None
    if not in_pick_order:
        first = offer(list(picks))
        if not isinstance(first, Accepted) or first.code not in picks:
            reason = first.reason if isinstance(first, Rejected | Unreachable) else f"picked 0x{first.code:04X}"
            return None, f"preference check failed: {reason}"
        if first.code != picks[0]:
            return True, None  # a server following the client's order would have taken our first suite
        picks = [first.code, *[p for p in picks if p != first.code]]
    outcome = offer(list(reversed(picks)))
    if isinstance(outcome, Accepted):
        if outcome.code == picks[0]:
            return True, None
        if outcome.code == picks[-1]:
            return False, None
        return (
            None,
            f"preference check: server picked 0x{outcome.code:04X}, neither its first nor our first choice",
        )
    reason = outcome.reason if isinstance(outcome, Rejected | Unreachable) else "unknown"
    return None, f"preference check failed: {reason}"


def refused_without_alert(outcome: Outcome | None) -> bool:
    """The server closed or reset instead of sending a TLS alert: what servers and middleboxes that choke
    on large ClientHellos do (a server without a shared suite says so with an alert)."""
    return isinstance(outcome, Rejected) and outcome.silent


def eliminate_in_chunks(offer: Offer, candidates: Sequence[int], size: int) -> Elimination:
    """Elimination over slices of `size` suites, for servers that refuse large ClientHellos. Picks keep the
    server's order within a slice only."""
    picks: list[int] = []
    notes: list[str] = []
    ended: Outcome | None = None
    silent = 0
    cut_short = None
    for start in range(0, len(candidates), size):
        part = eliminate(offer, candidates[start : start + size])
        picks += part.picks
        notes += [n for n in part.notes if n not in notes]
        ended = part.ended
        silent += refused_without_alert(part.ended)
        cut_short = cut_short or part.cut_short
        if part.unreachable is not None or part.cut_short:
            break
    return Elimination(tuple(picks), ended, tuple(notes), silent, cut_short)


HELLO_SLICES = (32, 16, 8)
"""Suites per ClientHello for servers that refuse large hellos, tried in turn: 32 make about 220 bytes in
an OpenSSL hello with a short host name, under the 255-byte limit some servers and middleboxes have; a
long SNI name needs the smaller slices."""


@dataclass
class HelloBudget:
    """What one server showed of the ClientHello size it takes: `slice` is None until it refused a large
    hello, then the number of suites per hello that it answered."""

    slice: int | None = None


def eliminate_adaptively(offer: Offer, suites: Sequence[int], budget: HelloBudget) -> Elimination:
    """Elimination offering every suite at once; if the server closes on that hello without a word (twice,
    so one dropped connection does not count), again with smaller and smaller slices, and `budget`
    remembers the size that worked for the next pass."""
    if budget.slice is not None:
        return eliminate_in_chunks(offer, suites, budget.slice)
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
            budget.slice = size
            note = f"the server refuses large ClientHellos; suites were offered {size} at a time"
            return replace(sliced, notes=(note, *sliced.notes))
        if not sliced.silent_refusals:
            return sliced
    return full
