"""Elimination and preference detection as pure logic, against a model server (no sockets)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.models import EndpointStatus
from scanner.probe.elimination import HelloBudget, detect_server_preference, eliminate, eliminate_adaptively
from scanner.probe.outcome import Accepted, Outcome, Refusal, Rejected, Unreachable


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


class SmallHelloServer(ModelServer):
    """Closes without a word on an offer of more than `limit` suites, as some middleboxes do."""

    def __init__(self, suites: Sequence[int], limit: int) -> None:
        super().__init__(suites, server_order=False)
        self.limit = limit

    def offer(self, offered: Sequence[int]) -> Outcome:
        if len(offered) > self.limit:
            self.offers += 1
            return Rejected("closed", Refusal.CLOSED)
        return super().offer(offered)


def test_a_server_that_drops_large_hellos_is_enumerated_in_slices() -> None:
    server = SmallHelloServer([3, 40, 77], limit=20)
    budget = HelloBudget()
    result = eliminate_adaptively(server.offer, list(range(100)), budget)
    assert sorted(result.picks) == [3, 40, 77]
    assert budget.slice == 16  # 32 was still too large; 16 worked
    assert "suites were offered 16 at a time" in result.notes[0]
    again = eliminate_adaptively(server.offer, list(range(100, 120)), budget)  # the next pass slices at once
    assert again.silent_refusals == 0


def test_an_alert_is_not_a_reason_to_slice() -> None:
    server = ModelServer([], server_order=False)
    budget = HelloBudget()
    result = eliminate_adaptively(server.offer, list(range(100)), budget)
    assert result.picks == () and budget.slice is None and server.offers == 1


def test_one_dropped_connection_does_not_start_slicing() -> None:
    calls: list[int] = []

    def flaky(offered: Sequence[int]) -> Outcome:
        calls.append(len(offered))
        if len(calls) == 1:
            return Rejected("reset", Refusal.RESET)
        return Accepted(offered[0]) if 5 in offered and len(offered) > 1 else Rejected("no", Refusal.ALERT)

    budget = HelloBudget()
    result = eliminate_adaptively(flaky, list(range(10)), budget)
    assert budget.slice is None and 0 in result.picks
