"""One listener's downlink stays ONE RTP stream across talkers, bursts and silences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ptt.rtp import (
    MAX_ADVANCE,
    MAX_SEQUENCE_JUMP,
    REORDER_WINDOW,
    Retimer,
    Rewritten,
    seq_distance,
    ts_distance,
)

RATE = 48000


class Talker:
    """An incoming RTP stream with its own random origins, as a real sender has."""

    def __init__(self, name: str, seq: int, ts: int, samples: int = 960) -> None:
        self.name = name
        self.seq = seq
        self.ts = ts
        self.samples = samples

    def next(self, *, lost: int = 0) -> tuple[str, int, int]:
        """The next packet's (source, sequence, timestamp) after ``lost`` lost packets."""
        self.seq = (self.seq + 1 + lost) % 65536
        self.ts = (self.ts + self.samples * (1 + lost)) % (1 << 32)
        return self.name, self.seq, self.ts


def send(r: Retimer, talker: Talker, now: float, *, lost: int = 0, marker: bool = False):
    source, seq, ts = talker.next(lost=lost)
    return r.rewrite(source, seq, ts, now, marker=marker, samples=talker.samples)


class TestSerialArithmetic:
    def test_seq_distance_wraps(self) -> None:
        assert seq_distance(65535, 0) == 1
        assert seq_distance(0, 65535) == -1
        assert seq_distance(10, 10) == 0

    def test_ts_distance_wraps(self) -> None:
        assert ts_distance((1 << 32) - 960, 0) == 960
        assert ts_distance(0, (1 << 32) - 960) == -960


class TestWithinBurst:
    def test_first_packet_opens_burst_with_marker_at_origin(self) -> None:
        r = Retimer(initial_sequence=100, initial_timestamp=5000)
        out = send(r, Talker("a", 7, 123456), 10.0)
        assert out == Rewritten(sequence=100, timestamp=5000, marker=True, pts=0)

    def test_sequence_contiguous_and_timestamp_follows_source(self) -> None:
        r = Retimer(initial_sequence=65534, initial_timestamp=(1 << 32) - 960)
        a = Talker("a", 40000, 999)
        outs = [send(r, a, 1.0 + 0.02 * i) for i in range(4)]
        assert [o.sequence for o in outs if o] == [65534, 65535, 0, 1]
        assert [o.timestamp for o in outs if o] == [(1 << 32) - 960, 0, 960, 1920]
        assert [o.pts for o in outs if o] == [0, 960, 1920, 2880]
        assert [o.marker for o in outs if o] == [True, False, False, False]

    def test_upstream_loss_is_a_timestamp_jump_not_a_sequence_gap(self) -> None:
        r = Retimer()
        a = Talker("a", 1, 0)
        send(r, a, 0.0)
        out = send(r, a, 0.08, lost=3)
        assert out is not None
        assert (out.sequence, out.pts, out.marker) == (1, 4 * 960, False)

    def test_talkspurt_after_dtx_keeps_source_timing_and_sets_marker(self) -> None:
        r = Retimer()
        a = Talker("a", 1, 0)
        send(r, a, 0.0)
        out = send(r, a, 0.4, lost=19, marker=True)
        assert out is not None
        assert out.pts == 20 * 960 and out.marker

    def test_incoming_marker_on_every_packet_is_ignored(self) -> None:
        """aiortc sets the marker on every audio packet."""
        r = Retimer()
        a = Talker("a", 1, 0)
        markers = [send(r, a, 0.02 * i, marker=True) for i in range(5)]
        assert [o.marker for o in markers if o] == [True, False, False, False, False]

    def test_40ms_packets_advance_by_1920(self) -> None:
        r = Retimer()
        a = Talker("a", 1, 0, samples=1920)
        outs = [send(r, a, 0.04 * i) for i in range(3)]
        assert [o.pts for o in outs if o] == [0, 1920, 3840]


class TestLateAndDuplicate:
    def test_duplicate_dropped_and_counted(self) -> None:
        r = Retimer()
        assert r.rewrite("a", 10, 960, 0.0) is not None
        assert r.rewrite("a", 10, 960, 0.01) is None
        assert r.dropped_late == 1
        out = r.rewrite("a", 11, 1920, 0.02)
        assert out is not None and out.sequence == 1 and out.pts == 960

    def test_reordered_packet_dropped_sequence_stays_contiguous(self) -> None:
        r = Retimer()
        r.rewrite("a", 10, 9600, 0.0)
        r.rewrite("a", 12, 11520, 0.04)
        assert r.rewrite("a", 11, 10560, 0.041) is None
        out = r.rewrite("a", 13, 12480, 0.06)
        assert out is not None and out.sequence == 2 and out.pts == 2880

    def test_packet_far_behind_is_a_restart_not_late(self) -> None:
        r = Retimer()
        r.rewrite("a", 5000, 0, 0.0)
        out = r.rewrite("a", 5000 - REORDER_WINDOW - 1, 7, 0.02)
        assert out is not None and out.marker and out.pts == 960


class TestNewBurst:
    def test_talker_switch_advances_by_wall_clock(self) -> None:
        r = Retimer()
        a, b = Talker("a", 100, 10), Talker("b", 60000, 4_000_000_000)
        send(r, a, 1.0)
        send(r, a, 1.02)
        out = send(r, b, 1.05)
        assert out is not None
        assert out.sequence == 2
        assert out.marker
        assert out.pts == 960 + round(0.03 * RATE)
        nxt = send(r, b, 1.07)
        assert nxt is not None and nxt.pts == out.pts + 960 and not nxt.marker

    def test_switch_sooner_than_packet_duration_does_not_overlap(self) -> None:
        r = Retimer()
        a, b = Talker("a", 1, 0, samples=2880), Talker("b", 1, 0)
        send(r, a, 0.0)
        out = send(r, b, 0.001)
        assert out is not None and out.pts == 2880

    def test_silence_between_bursts_follows_wall_clock(self) -> None:
        r = Retimer()
        a = Talker("a", 1, 0)
        send(r, a, 0.0)
        r.start_burst()
        out = send(r, a, 12.5)
        assert out is not None and out.marker and out.pts == 12.5 * RATE

    def test_same_source_resumes_with_consistent_timestamps_after_silence(self) -> None:
        """A browser keeps its RTP clock running while the relay drops its packets."""
        r = Retimer()
        a = Talker("a", 1, 0)
        send(r, a, 0.0)
        out = send(r, a, 5.0, lost=249)
        assert out is not None and out.pts == 250 * 960 and not out.marker

    def test_timestamps_running_ahead_of_wall_clock_resync(self) -> None:
        r = Retimer(tolerance=0.5)
        send(r, Talker("a", 1, 0), 0.0)
        out = r.rewrite("a", 3, 48000 * 10, 0.02)
        assert out is not None and out.marker and out.pts == 960

    def test_timestamp_going_back_resyncs(self) -> None:
        r = Retimer()
        r.rewrite("a", 1, 96000, 0.0)
        out = r.rewrite("a", 2, 0, 0.02)
        assert out is not None and out.marker and out.pts == 960

    def test_sequence_jump_beyond_limit_resyncs(self) -> None:
        r = Retimer()
        r.rewrite("a", 1, 0, 0.0)
        out = r.rewrite("a", 2 + MAX_SEQUENCE_JUMP, 960, 0.02)
        assert out is not None and out.marker

    def test_advance_capped_so_receiver_sees_it_forward(self) -> None:
        r = Retimer(initial_timestamp=123)
        send(r, Talker("a", 1, 0), 0.0)
        out = send(r, Talker("b", 1, 0), 30 * 3600.0)
        assert out is not None and out.pts == MAX_ADVANCE
        assert 0 < ts_distance(123, out.timestamp)

    def test_clock_going_back_counts_as_no_time(self) -> None:
        r = Retimer()
        send(r, Talker("a", 1, 0), 10.0)
        out = send(r, Talker("b", 1, 0), 9.0)
        assert out is not None and out.pts == 960

    def test_counters(self) -> None:
        r = Retimer()
        a = Talker("a", 1, 0)
        send(r, a, 0.0)
        send(r, a, 0.02)
        send(r, Talker("b", 1, 0), 0.04)
        assert (r.packets, r.bursts, r.dropped_late) == (3, 2, 0)


class TestArguments:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {"initial_sequence": 65536},
            {"initial_sequence": -1},
            {"initial_timestamp": 1 << 32},
            {"clock_rate": 0},
            {"tolerance": -1.0},
        ],
    )
    def test_bad_construction(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            Retimer(**kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize("seq,ts,samples", [(65536, 0, 960), (0, 1 << 32, 960), (0, 0, 0)])
    def test_bad_packet(self, seq: int, ts: int, samples: int) -> None:
        with pytest.raises(ValueError):
            Retimer().rewrite("a", seq, ts, 0.0, samples=samples)


# --- properties ---------------------------------------------------------------------------


class DownlinkMachine(RuleBasedStateMachine):
    """Random talkers, losses, silences, restarts and duplicates against the stream rules."""

    @initialize(
        seq0=st.integers(0, 65535),
        ts0=st.integers(0, (1 << 32) - 1),
        tolerance=st.sampled_from([0.2, 1.0]),
    )
    def setup(self, seq0: int, ts0: int, tolerance: float) -> None:
        self.r = Retimer(initial_sequence=seq0, initial_timestamp=ts0, tolerance=tolerance)
        self.ts0 = ts0
        self.now = 1000.0
        self.last_forward_now = self.now
        self.talkers: dict[str, Talker] = {}
        self.current: str | None = None
        self.outs: list[Rewritten] = []
        self.talkers_samples_last = 0

    def _emit(
        self, name: str, seq: int, ts: int, samples: int, dt: float, marker: bool
    ) -> Rewritten | None:
        self.now += dt
        bursts = self.r.bursts
        prev = self.outs[-1] if self.outs else None
        prev_samples = self.talkers_samples_last if prev else 0
        out = self.r.rewrite(name, seq, ts, self.now, marker=marker, samples=samples)
        if out is None:
            return None
        opened = self.r.bursts == bursts + 1
        if prev is not None and opened:
            # Rule 3: a burst starts after max(previous duration, wall-clock time elapsed).
            elapsed = self.now - self.last_forward_now
            assert out.pts - prev.pts == min(MAX_ADVANCE, max(prev_samples, round(elapsed * RATE)))
        assert out.marker or not opened
        self.outs.append(out)
        self.last_forward_now = self.now
        self.talkers_samples_last = samples
        self.current = name
        return out

    @rule(
        name=st.sampled_from(["a", "b", "c"]),
        samples=st.sampled_from([480, 960, 1920, 2880]),
        seq=st.integers(0, 65535),
        ts=st.integers(0, (1 << 32) - 1),
        dt=st.floats(0, 5),
    )
    def talker_starts(self, name: str, samples: int, seq: int, ts: int, dt: float) -> None:
        old = self.talkers.get(name)
        self.talkers[name] = Talker(name, seq, ts, samples)
        if self._emit(name, seq, ts, samples, dt, marker=True) is None and old is not None:
            self.talkers[name] = old  # dropped as a duplicate/late packet of the same source

    @precondition(lambda self: self.current is not None)
    @rule(lost=st.integers(0, 30), jitter=st.floats(-0.015, 0.05), marker=st.booleans())
    def current_talker_continues(self, lost: int, jitter: float, marker: bool) -> None:
        assert self.current is not None
        t = self.talkers[self.current]
        name, seq, ts = t.next(lost=lost)
        dt = max(0.0, t.samples * (1 + lost) / RATE + jitter)
        bursts = self.r.bursts
        prev = self.outs[-1]
        out = self._emit(name, seq, ts, t.samples, dt, marker)
        assert out is not None
        if self.r.bursts == bursts:
            # Rule 2: same burst, the source's delta is kept exactly; marker only after a gap.
            assert out.pts - prev.pts == t.samples * (1 + lost)
            assert out.marker == (marker and lost > 0)

    @precondition(lambda self: self.current is not None)
    @rule(back=st.integers(0, REORDER_WINDOW))
    def duplicate_or_late(self, back: int) -> None:
        assert self.current is not None
        t = self.talkers[self.current]
        dropped = self.r.dropped_late
        out = self.r.rewrite(t.name, (t.seq - back) % 65536, t.ts, self.now, samples=t.samples)
        assert out is None
        assert self.r.dropped_late == dropped + 1

    @rule()
    def control_plane_starts_burst(self) -> None:
        self.r.start_burst()

    @invariant()
    def one_continuous_stream(self) -> None:
        outs = getattr(self, "outs", [])
        for a, b in zip(outs, outs[1:], strict=False):
            # Sequence strictly +1 modulo 2**16.
            assert b.sequence == (a.sequence + 1) % 65536
            # Timestamps strictly increasing and unambiguously forward modulo 2**32.
            d = ts_distance(a.timestamp, b.timestamp)
            assert 0 < d <= MAX_ADVANCE
            assert b.pts - a.pts == d
            assert b.timestamp == (self.ts0 + b.pts) % (1 << 32)
        assert self.r.packets == len(outs) if outs else True


TestDownlinkMachine = DownlinkMachine.TestCase
TestDownlinkMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@given(
    switches=st.lists(
        st.tuples(st.floats(0.0, 0.3), st.integers(1, 20), st.sampled_from([480, 960, 2880])),
        min_size=1,
        max_size=8,
    ),
    seq0=st.integers(0, 65535),
)
def test_talker_switches_keep_continuity(switches: list[tuple[float, int, int]], seq0: int) -> None:
    """Each switch advances by max(last packet duration, wall-clock gap); bursts play intact."""
    r = Retimer(initial_sequence=seq0)
    now = 0.0
    last: Rewritten | None = None
    last_samples = 0
    for i, (pause, count, samples) in enumerate(switches):
        talker = Talker(f"t{i}", (i * 7919) % 65536, (i * 104729) % (1 << 32), samples)
        for k in range(count):
            now += pause if k == 0 else samples / RATE
            out = send(r, talker, now)
            assert out is not None
            if last is not None:
                assert out.sequence == (last.sequence + 1) % 65536
                if k == 0:
                    gap = out.pts - last.pts
                    assert out.marker
                    assert gap == max(last_samples, round(pause * RATE))
                else:
                    assert not out.marker and out.pts - last.pts == samples
            last, last_samples = out, samples
