"""The C Retimer (``ptt.media._rtpout.Retimer``) follows ``ptt.rtp.Retimer`` packet for packet.

The Python class is the rule (its own tests say what the rules are); the C one is what the
fan-out runs. Here both get the same packets, from well-behaved talkers and from arbitrary
numbers, and must give the same rewrites, drops and counters after every step.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ptt.errors import UsageError
from ptt.media import native as native_glue
from ptt.rtp import MAX_ADVANCE, Retimer, Rewritten

pytestmark = pytest.mark.skipif(not native_glue.NATIVE_SEND,
                                reason="ptt.media._rtpout was not built (no C compiler)")

if native_glue.NATIVE_SEND:
    from ptt.media._rtpout import Retimer as NativeRetimer


def counters(r: object) -> tuple[int, int, int]:
    return (r.packets, r.bursts, r.dropped_late)  # type: ignore[attr-defined]


class Twins:
    """A Python and a C Retimer built alike, fed alike, compared after every packet."""

    def __init__(self, **kwargs: float) -> None:
        self.python = Retimer(**kwargs)  # type: ignore[arg-type]
        self.native = NativeRetimer(**kwargs)  # type: ignore[arg-type]

    def rewrite(self, source: str, sequence: int, timestamp: int, now: float, marker: bool,
                samples: int) -> Rewritten | None:
        expected = self.python.rewrite(source, sequence, timestamp, now, marker=marker,
                                       samples=samples)
        got = self.native.rewrite(source, sequence, timestamp, now, marker=marker,
                                  samples=samples)
        assert got == expected
        assert type(got) is type(expected)
        assert counters(self.native) == counters(self.python)
        return got

    def start_burst(self) -> None:
        self.python.start_burst()
        self.native.start_burst()


class TalkersOnOneDownlink(RuleBasedStateMachine):
    """Talkers with their own origins, packet sizes, loss, DTX, reordering and restarts."""

    @initialize(seq0=st.integers(0, 65535), ts0=st.integers(0, (1 << 32) - 1),
                tolerance=st.sampled_from([0.0, 0.2, 1.0]))
    def setup(self, seq0: int, ts0: int, tolerance: float) -> None:
        self.twins = Twins(initial_sequence=seq0, initial_timestamp=ts0, tolerance=tolerance)
        self.now = 1000.0
        self.talkers = {name: [s, t] for name, s, t in
                        (("a", 65530, (1 << 32) - 2000), ("b", 7, 123456), ("c", 0, 0))}
        self.sent: dict[str, list[tuple[int, int]]] = {name: [] for name in self.talkers}

    @rule(name=st.sampled_from("abc"), samples=st.sampled_from([480, 960, 1920, 2880]),
          lost=st.integers(0, 3), dtx=st.booleans(), marker=st.booleans(),
          wait=st.floats(0.0, 0.2))
    def packet(self, name: str, samples: int, lost: int, dtx: bool, marker: bool,
               wait: float) -> None:
        seq, ts = self.talkers[name]
        seq = (seq + 1 + lost) % 65536
        ts = (ts + samples * (1 + lost + (25 if dtx else 0))) % (1 << 32)
        self.talkers[name] = [seq, ts]
        self.now += wait
        self.sent[name].append((seq, ts))
        self.twins.rewrite(name, seq, ts, self.now, marker, samples)

    @rule(name=st.sampled_from("abc"), back=st.integers(0, 80))
    def old_packet_again(self, name: str, back: int) -> None:
        sent = self.sent[name]
        if sent:
            seq, ts = sent[max(0, len(sent) - 1 - back)]
            self.twins.rewrite(name, seq, ts, self.now, False, 960)

    @rule(name=st.sampled_from("abc"), seq=st.integers(0, 65535),
          ts=st.integers(0, (1 << 32) - 1))
    def restart(self, name: str, seq: int, ts: int) -> None:
        self.talkers[name] = [seq, ts]

    @rule(seconds=st.floats(-1.0, 30.0))
    def clock_moves(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def floor_granted_again(self) -> None:
        self.twins.start_burst()

    @invariant()
    def same_counters(self) -> None:
        if hasattr(self, "twins"):
            assert counters(self.twins.native) == counters(self.twins.python)


TestTalkersOnOneDownlink = TalkersOnOneDownlink.TestCase
TestTalkersOnOneDownlink.settings = settings(max_examples=300, stateful_step_count=60,
                                             deadline=None)


@settings(max_examples=300, deadline=None)
@given(
    packets=st.lists(st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(0, 65535),
        st.integers(0, (1 << 32) - 1),
        st.floats(-1e6, 1e9, allow_nan=False),
        st.booleans(),
        st.integers(1, MAX_ADVANCE),
    ), max_size=40),
    seq0=st.integers(0, 65535),
    ts0=st.integers(0, (1 << 32) - 1),
    tolerance=st.floats(0.0, 1e6),
)
def test_arbitrary_numbers_rewrite_alike(packets: list[tuple[str, int, int, float, bool, int]],
                                         seq0: int, ts0: int, tolerance: float) -> None:
    twins = Twins(initial_sequence=seq0, initial_timestamp=ts0, tolerance=tolerance)
    for packet in packets:
        twins.rewrite(*packet)


class TestArgumentsAlike:
    @pytest.mark.parametrize("kwargs", [
        {"initial_sequence": 65536}, {"initial_sequence": -1}, {"initial_timestamp": 1 << 32},
        {"initial_timestamp": -1}, {"clock_rate": 0}, {"tolerance": -1.0},
    ])
    def test_bad_construction_is_a_usage_error(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(UsageError):
            Retimer(**kwargs)  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            NativeRetimer(**kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize("seq,ts,samples", [
        (65536, 0, 960), (-1, 0, 960), (0, 1 << 32, 960), (0, -1, 960), (0, 0, 0),
        (0, 0, MAX_ADVANCE + 1), (1 << 70, 0, 960),
    ])
    def test_bad_packet_is_a_usage_error_and_changes_nothing(self, seq: int, ts: int,
                                                             samples: int) -> None:
        twins = Twins()
        twins.rewrite("a", 1, 960, 0.0, False, 960)
        for r in (twins.python, twins.native):
            with pytest.raises(UsageError):
                r.rewrite("a", seq, ts, 0.02, samples=samples)
        # the next good packet continues the stream in both, as if nothing had come
        assert twins.rewrite("a", 2, 1920, 0.02, False, 960) == (1, 960, False, 960)

    @pytest.mark.parametrize("now", [float("nan"), float("inf"), float("-inf")])
    def test_a_clock_reading_that_is_not_a_number_is_refused(self, now: float) -> None:
        twins = Twins()
        twins.rewrite("a", 1, 960, 0.0, False, 960)
        for r in (twins.python, twins.native):
            with pytest.raises(UsageError):
                r.rewrite("a", 2, 1920, now)
        assert twins.rewrite("a", 2, 1920, 0.02, False, 960) == (1, 960, False, 960)

    def test_keyword_only_construction(self) -> None:
        with pytest.raises(TypeError):
            NativeRetimer(5)  # type: ignore[call-arg]
