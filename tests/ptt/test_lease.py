"""The lease core (``ptt.lease``): claims, renewals, loss and release, with time stepped by
hand and a key/value store played by the test."""

from __future__ import annotations

import pytest

from ptt.errors import IllegalTransition, UsageError
from ptt.lease import (
    TRANSITIONS,
    Claim,
    LeadershipGained,
    LeadershipLost,
    Lease,
    LeaseInput,
    LeaseState,
    LossReason,
)


def claim(lease: Lease, now: float) -> Claim:
    """Fire the timer at ``now`` and return the one claim it issues."""
    lease.handle_timer(now)
    claims = lease.claims()
    assert len(claims) == 1, claims
    return claims[0]


def leader(token: int = 7, now: float = 0.0) -> Lease:
    lease = Lease("a")
    c = claim(lease, now)
    lease.claimed(c, token, now + 0.01)
    assert lease.events() == [LeadershipGained(token)]
    return lease


class TestClaiming:
    def test_a_new_lease_creates_the_key_at_once(self) -> None:
        lease = Lease("a")
        assert lease.get_timer() == 0.0
        c = claim(lease, 0.0)
        assert c == Claim(None, 0.0)
        assert lease.get_timer() is None  # nothing while the claim is in flight
        lease.handle_timer(1.0)
        assert lease.claims() == []

    def test_a_granted_claim_makes_the_leader_with_its_revision_as_token(self) -> None:
        lease = leader(token=7)
        assert lease.state is LeaseState.LEADER and lease.token == 7
        assert lease.holder == "a"
        assert lease.holds(1.49) and not lease.holds(1.5)

    def test_a_refused_claim_names_the_holder_and_retries_later(self) -> None:
        lease = Lease("a")
        lease.refused(claim(lease, 0.0), "b", 3, 0.01)
        assert lease.state is LeaseState.FOLLOWER and lease.holder == "b"
        assert not lease.holds(0.02) and lease.events() == []
        assert lease.get_timer() == pytest.approx(0.51)
        lease.handle_timer(0.3)
        assert lease.claims() == []
        assert claim(lease, 0.51) == Claim(None, 0.51)

    def test_a_key_found_to_be_our_own_is_renewed_at_once(self) -> None:
        lease = Lease("a")
        lease.refused(claim(lease, 0.0), "a", 41, 0.01)
        assert claim(lease, 0.01) == Claim(41, 0.01)

    def test_a_failed_claim_is_tried_again_later(self) -> None:
        lease = Lease("a")
        lease.failed(claim(lease, 0.0), 1.0)
        assert lease.get_timer() == 1.5 and lease.state is LeaseState.FOLLOWER

    def test_an_answer_too_late_to_act_on_is_renewed_at_once(self) -> None:
        lease = Lease("a")
        lease.claimed(claim(lease, 0.0), 9, 1.6)
        assert lease.state is LeaseState.FOLLOWER and lease.events() == []
        assert claim(lease, 1.6) == Claim(9, 1.6)

    def test_an_answer_to_no_claim_is_a_usage_error(self) -> None:
        lease = Lease("a")
        with pytest.raises(UsageError):
            lease.claimed(Claim(None, 0.0), 1, 0.0)

    @pytest.mark.parametrize("ttl,renew,guard", [(2, 0, 0.5), (2, 1.5, 0.5), (2, 0.5, 0)])
    def test_impossible_timings_are_refused(self, ttl: float, renew: float,
                                            guard: float) -> None:
        with pytest.raises(UsageError):
            Lease("a", ttl=ttl, renew_every=renew, guard=guard)


class TestRenewal:
    def test_renewals_are_sent_every_interval_after_the_previous_claim(self) -> None:
        lease = leader(token=7)
        assert lease.get_timer() == 0.5
        c = claim(lease, 0.5)
        assert c == Claim(7, 0.5)
        lease.claimed(c, 8, 0.52)
        assert lease.token == 8 and lease.events() == []
        assert lease.holds(1.99) and not lease.holds(2.0)

    def test_a_refused_renewal_ends_the_leadership_at_once(self) -> None:
        lease = leader(token=7)
        lease.refused(claim(lease, 0.5), "b", 12, 0.52)
        assert lease.events() == [LeadershipLost(7, LossReason.TAKEN)]
        assert lease.state is LeaseState.FOLLOWER and not lease.holds(0.53)
        assert lease.holder == "b"

    def test_renewals_that_fail_end_the_leadership_at_the_deadline(self) -> None:
        lease = leader(token=7)
        lease.failed(claim(lease, 0.5), 0.55)
        assert lease.holds(1.49)
        c = claim(lease, 1.05)  # still in flight when the deadline comes
        assert lease.get_timer() == 1.5
        lease.handle_timer(1.5)
        assert lease.events() == [LeadershipLost(7, LossReason.EXPIRED)]
        assert not lease.holds(1.5) and lease.claims() == []
        lease.failed(c, 2.0)
        assert claim(lease, 2.5) == Claim(7, 2.5)  # our key may still be there

    def test_an_expired_leader_with_nothing_in_flight_claims_again_at_once(self) -> None:
        lease = leader(token=7)
        lease.handle_timer(1.6)
        assert lease.events() == [LeadershipLost(7, LossReason.EXPIRED)]
        assert lease.claims() == [Claim(7, 1.6)]

    def test_a_late_renewal_after_expiry_makes_the_node_leader_again(self) -> None:
        lease = leader(token=7)
        lease.handle_timer(1.6)
        lease.events()
        c = lease.claims()[0]
        lease.claimed(c, 11, 1.7)
        assert lease.events() == [LeadershipGained(11)] and lease.holds(3.0)


class TestRelease:
    def test_a_leader_releasing_deletes_its_revision_and_never_claims_again(self) -> None:
        lease = leader(token=7)
        lease.release(0.2)
        assert lease.claims() == [Claim(7, 0.2, release=True)]
        assert lease.events() == [LeadershipLost(7, LossReason.RELEASED)]
        assert lease.state is LeaseState.RELEASED and lease.get_timer() is None
        assert not lease.holds(0.3)

    def test_a_follower_releasing_has_nothing_to_delete(self) -> None:
        lease = Lease("a")
        c = claim(lease, 0.0)
        lease.release(0.1)
        assert lease.claims() == [] and lease.events() == []
        lease.claimed(c, 5, 0.2)  # the answer in flight changes nothing
        assert lease.state is LeaseState.RELEASED and lease.events() == []

    @pytest.mark.parametrize("answer", ["refused", "failed"])
    def test_answers_after_release_change_nothing(self, answer: str) -> None:
        lease = leader(token=7)
        c = claim(lease, 0.5)
        lease.release(0.6)
        lease.claims(), lease.events()
        if answer == "refused":
            lease.refused(c, "b", 9, 0.7)
        else:
            lease.failed(c, 0.7)
        assert lease.state is LeaseState.RELEASED and lease.events() == []
        assert lease.get_timer() is None


class TestTransitions:
    def test_every_pair_the_table_omits_is_refused(self) -> None:
        for state in LeaseState:
            for by in LeaseInput:
                lease = Lease("a")
                lease.state = state
                if by in TRANSITIONS[state]:
                    lease._move(by)
                    assert lease.state is TRANSITIONS[state][by]
                else:
                    with pytest.raises(IllegalTransition):
                        lease._move(by)

    def test_releasing_twice_is_illegal(self) -> None:
        lease = Lease("a")
        lease.release(0.0)
        with pytest.raises(IllegalTransition):
            lease.release(0.1)
