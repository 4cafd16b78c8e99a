"""Revocation core: which live sessions a credentials change ends (no sockets, no clock)."""

from __future__ import annotations

from kernel.revocation import CredentialsChanged, Observed, Revocations


def held(*sessions: tuple[str, int, int]) -> Revocations[str]:
    r: Revocations[str] = Revocations()
    for key, user, version in sessions:
        r.hold(key, user, version)
    return r


def test_a_password_change_revokes_the_sessions_of_older_versions_only() -> None:
    r = held(("old", 7, 1), ("new", 7, 2), ("other", 8, 1))
    assert r.users() == [7, 8]
    changes = r.observe([7, 8], [Observed(7, 2, False), Observed(8, 1, False)])
    assert changes == [CredentialsChanged(7, 2)]
    assert r.apply(changes[0]) == ["old"]
    assert len(r) == 2 and r.users() == [7, 8]


def test_a_disabled_account_revokes_every_session_of_it() -> None:
    r = held(("a", 7, 3), ("b", 7, 3))
    [change] = r.observe([7], [Observed(7, 3, True)])
    assert change == CredentialsChanged(7, 3, disabled=True)
    assert sorted(r.apply(change)) == ["a", "b"]
    assert r.users() == [] and len(r) == 0


def test_an_account_that_is_gone_revokes_its_sessions() -> None:
    r = held(("a", 7, 0))
    [change] = r.observe([7], [])
    assert change == CredentialsChanged(7, -1)
    assert r.apply(change) == ["a"]


def test_the_same_change_is_announced_once_and_again_when_it_changes_more() -> None:
    r = held(("a", 7, 0))
    first = r.observe([7], [Observed(7, 1, False)])
    assert first == [CredentialsChanged(7, 1)]
    assert r.observe([7], [Observed(7, 1, False)]) == []  # not applied yet: not again
    assert r.observe([7], [Observed(7, 1, True)]) == [CredentialsChanged(7, 1, disabled=True)]


def test_nothing_is_announced_while_every_session_is_current() -> None:
    r = held(("a", 7, 4))
    assert r.observe([7], [Observed(7, 4, False)]) == []
    assert r.apply(CredentialsChanged(7, 4)) == []
    assert r.apply(CredentialsChanged(99, 0)) == []  # a change carried for nobody here


def test_a_released_session_is_forgotten_and_a_key_held_again_is_moved() -> None:
    r = held(("a", 7, 0))
    r.observe([7], [Observed(7, 1, False)])
    r.release("a")
    r.release("a")  # twice: nothing more
    assert r.users() == [] and len(r) == 0
    r.hold("a", 7, 0)
    assert r.observe([7], [Observed(7, 1, False)]) == [CredentialsChanged(7, 1)]  # anew
    r.hold("a", 8, 5)  # the same key for another account replaces the first
    assert r.users() == [8]
