"""Elimination and preference detection as pure logic, against a model server (no sockets)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.models import EndpointStatus
from scanner.probe.elimination import detect_server_preference, eliminate
from scanner.probe.outcome import Accepted, Outcome, Rejected, Unreachable


class ModelServer:
    """Accepts `suites`; picks by its own order or by the client's; counts offers."""

    def __init__(self, suites: Sequence[int], server_order: bool) -> None:
        self.suites = list(suites)
        self.server_order = server_order
        self.offers = 0

    def offer(self, offered: Sequence[int]) -> Outcome:
        self.offers += 1
        order = self.suites if self.server_order else list(offered)
        for suite in order:
            if suite in offered and suite in self.suites:
                return Accepted(suite)
        return Rejected("handshake failure")


CLIENT = list(range(20))


def test_client_order_picks_come_out_in_offer_order() -> None:
    server = ModelServer([7, 2, 13], server_order=False)
    result = eliminate(server.offer, CLIENT)
    assert result.picks == (2, 7, 13)
    assert server.offers == 3 + 1
    assert isinstance(result.ended, Rejected)


def test_server_order_picks_come_out_in_server_order() -> None:
    server = ModelServer([13, 2, 7], server_order=True)
    result = eliminate(server.offer, CLIENT)
    assert result.picks == (13, 2, 7)
    assert server.offers == 4


def test_preference_detection_takes_one_handshake() -> None:
    for server_order in (True, False):
        server = ModelServer([13, 2, 7], server_order=server_order)
        picks = eliminate(server.offer, CLIENT).picks
        before = server.offers
        preference, note = detect_server_preference(server.offer, picks)
        assert preference is server_order and note is None
        assert server.offers == before + 1


def test_preference_detection_from_an_unordered_list() -> None:
    server = ModelServer([13, 2, 7], server_order=True)
    assert detect_server_preference(server.offer, [2, 7, 13], in_pick_order=False) == (True, None)
    client = ModelServer([13, 2, 7], server_order=False)
    assert detect_server_preference(client.offer, [2, 7, 13], in_pick_order=False) == (False, None)
    assert client.offers == 2


def test_one_suite_has_no_order() -> None:
    server = ModelServer([3], server_order=True)
    assert detect_server_preference(server.offer, [3]) == (None, None)
    assert server.offers == 0


def test_unreachable_stops_at_once() -> None:
    calls = []

    def offer(offered: Sequence[int]) -> Outcome:
        calls.append(offered)
        return Unreachable(EndpointStatus.UNREACHABLE, "refused")

    result = eliminate(offer, CLIENT)
    assert result.picks == () and result.unreachable is not None and len(calls) == 1


def test_a_server_that_picks_what_was_not_offered_does_not_loop() -> None:
    result = eliminate(lambda offered: Accepted(0xBEEF), CLIENT)
    assert result.picks == ()
    assert "not offered" in result.notes[0]
