"""Re-timestamping of one listener's downlink (pure core).

A listener's downlink for a talkgroup carries many talkers and many bursts (transmissions) one
after another, but the listener's WebRTC stack must see it as ONE continuous RTP stream: its
jitter buffer, loss statistics and decoder state are keyed on that. A :class:`Retimer` turns the
packets of successive sources into that one stream.

Rules (everything that decides an outgoing sequence number, timestamp or marker lives here):

1. Sequence numbers are contiguous: every forwarded packet gets the previous outgoing number
   plus one, modulo 2**16, whichever source it came from. Loss upstream therefore shows up as a
   timestamp jump, never as a sequence gap (which a receiver would try to conceal twice).
2. Inside a burst the outgoing timestamp advances by exactly the incoming timestamp delta
   (serial arithmetic modulo 2**32), so the talker's own timing (packet loss, DTX gaps, 40/60 ms
   packets) is kept as sent.
3. A packet opens a new burst when it is the first one, when its source differs from the
   previous packet's, after :meth:`Retimer.start_burst`, or when the source's numbering is
   inconsistent (sequence jump of more than ``MAX_SEQUENCE_JUMP``, timestamp not advancing, or
   advancing further than the wall clock allows, ``tolerance`` included). A burst's first
   timestamp is the previous outgoing timestamp plus the wall-clock time elapsed since the
   previous forwarded packet, but at least that packet's duration (no overlap) and at most
   ``MAX_ADVANCE`` (so the jump stays unambiguously forward in 32-bit serial arithmetic), so the
   listener's jitter buffer schedules the new talker at the right moment.
4. The marker bit is set on the first packet of a burst, and on a packet the source itself
   marked when it follows a gap in the source's timeline (a talkspurt after DTX). An incoming
   marker alone means nothing: aiortc marks every audio packet it sends.
5. Duplicates and late (reordered) packets of the current source, up to ``REORDER_WINDOW``
   packets behind, are dropped and counted: the outgoing sequence cannot go back.
6. ``pts`` is the outgoing timestamp unwrapped and counted from the first packet: a Python int
   that never wraps, which is what aiortc's packet tracks want (aiortc adds its own random
   origin and wraps).

Time is an argument (``now``, seconds, any monotonic origin); there is no I/O and no clock read.
This class is the rule. The WebRTC fan-out runs a line-by-line C translation of it
(``Retimer`` in ``ptt/media/_rtpout.c``); a change here must be made there too, and
``tests/media/test_rtp_native.py`` (both fed the same packets) fails until it is.
Errors: ``ptt.errors.UsageError`` (a ValueError) for out-of-range arguments, a bug in the
caller; a peer's odd numbering is never an error, it is rule 3 or rule 5.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

from ptt.errors import UsageError

__all__ = [
    "MAX_ADVANCE",
    "MAX_SEQUENCE_JUMP",
    "REORDER_WINDOW",
    "Retimer",
    "Rewritten",
    "seq_distance",
    "ts_distance",
]

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32

#: Largest timestamp jump at a burst start: 2**30 samples is 6.2 hours at 48 kHz, well inside
#: the 2**31 a receiver can tell from a jump backwards.
MAX_ADVANCE = 1 << 30
#: A forward sequence jump up to this many packets (20 s of 20 ms packets) is loss, not a restart.
MAX_SEQUENCE_JUMP = 1000
#: Packets up to this many sequence numbers behind the newest are "late", not a restart.
REORDER_WINDOW = 64


def seq_distance(a: int, b: int) -> int:
    """Signed distance from sequence number ``a`` to ``b`` modulo 2**16, in [-2**15, 2**15)."""
    return ((b - a + (SEQ_MOD >> 1)) % SEQ_MOD) - (SEQ_MOD >> 1)


def ts_distance(a: int, b: int) -> int:
    """Signed distance from timestamp ``a`` to ``b`` modulo 2**32, in [-2**31, 2**31)."""
    return ((b - a + (TS_MOD >> 1)) % TS_MOD) - (TS_MOD >> 1)


class Rewritten(NamedTuple):
    """What to put in the outgoing packet (a NamedTuple: created once per listener per packet)."""

    sequence: int
    timestamp: int
    marker: bool
    pts: int
    """Unwrapped outgoing timestamp counted from the first packet (for ``av.Packet.pts``)."""


_TS_HALF = TS_MOD >> 1
#: ``now`` must lie strictly inside (-_INFINITY, _INFINITY): NaN and infinities are refused.
_INFINITY = float("inf")
#: ``Rewritten`` without NamedTuple's keyword-handling ``__new__`` (the hot path's one object).
_new_rewritten = tuple.__new__


class Retimer:
    """Maps the packets of successive sources onto one continuous outgoing RTP stream.

    ``initial_sequence`` and ``initial_timestamp`` are the outgoing stream's origins (RFC 3550
    wants them random: the adapter draws them). ``tolerance`` (seconds) is how far a source's
    timestamps may run ahead of the wall clock between two of its packets before they are
    considered inconsistent (rule 3); it must cover network jitter and packets arriving bunched.
    """

    __slots__ = (
        "_clock_rate",
        "_tolerance_samples",
        "_initial_timestamp",
        "_next_sequence",
        "_last_out",
        "_last_now",
        "_last_samples",
        "_source",
        "_in_sequence",
        "_in_timestamp",
        "_force_burst",
        "packets",
        "bursts",
        "dropped_late",
    )

    def __init__(
        self,
        *,
        initial_sequence: int = 0,
        initial_timestamp: int = 0,
        clock_rate: int = 48000,
        tolerance: float = 1.0,
    ) -> None:
        if not 0 <= initial_sequence < SEQ_MOD:
            raise UsageError(f"initial_sequence out of range: {initial_sequence}")
        if not 0 <= initial_timestamp < TS_MOD:
            raise UsageError(f"initial_timestamp out of range: {initial_timestamp}")
        if clock_rate <= 0:
            raise UsageError(f"clock_rate must be positive: {clock_rate}")
        if tolerance < 0:
            raise UsageError(f"tolerance must not be negative: {tolerance}")
        self._clock_rate = clock_rate
        self._tolerance_samples = round(tolerance * clock_rate)
        self._initial_timestamp = initial_timestamp
        self._next_sequence = initial_sequence
        # Outgoing timestamp of the last forwarded packet, unwrapped, relative to the origin.
        self._last_out: int | None = None
        self._last_now = 0.0
        self._last_samples = 0
        self._source: Hashable | None = None
        self._in_sequence = 0
        self._in_timestamp = 0
        self._force_burst = False
        #: Packets forwarded so far.
        self.packets = 0
        #: Bursts opened so far (rule 3).
        self.bursts = 0
        #: Duplicate or late packets dropped (rule 5).
        self.dropped_late = 0

    def start_burst(self) -> None:
        """Make the next packet open a new burst even if it comes from the same source.

        For a control plane that knows a new transmission starts (floor granted again to the
        same talker) before the timestamps could tell.
        """
        self._force_burst = True

    def rewrite(
        self,
        source: Hashable,
        sequence: int,
        timestamp: int,
        now: float,
        *,
        marker: bool = False,
        samples: int = 960,
    ) -> Rewritten | None:
        """Place one incoming packet in the outgoing stream, or return ``None`` to drop it.

        ``source`` identifies the incoming stream (talker or transmission); ``sequence``,
        ``timestamp`` and ``marker`` are from its RTP header; ``samples`` is the packet's
        duration in clock-rate samples (from the Opus TOC byte; at most ``MAX_ADVANCE``);
        ``now`` the arrival time.
        """
        # Written for speed (once per listener per packet): no helper calls, no max().
        if not (0 <= sequence < SEQ_MOD and 0 <= timestamp < TS_MOD
                and 0 < samples <= MAX_ADVANCE and -_INFINITY < now < _INFINITY):
            raise UsageError(f"out of range: sequence {sequence}, timestamp {timestamp}, "
                             f"samples {samples}, now {now}")

        last_out = self._last_out
        elapsed = now - self._last_now
        if elapsed < 0.0:
            elapsed = 0.0
        same_source = last_out is not None and source == self._source
        dseq = (sequence - self._in_sequence) % SEQ_MOD
        if same_source and (dseq == 0 or dseq >= SEQ_MOD - REORDER_WINDOW):
            self.dropped_late += 1
            return None
        new_burst = not same_source or self._force_burst
        gap = False
        if not new_burst:
            dts = ((timestamp - self._in_timestamp + _TS_HALF) % TS_MOD) - _TS_HALF
            limit = round(elapsed * self._clock_rate) + self._tolerance_samples
            if dseq > MAX_SEQUENCE_JUMP or dts <= 0 or dts > limit:
                new_burst = True
            else:
                assert last_out is not None
                out = last_out + dts
                gap = dts > self._last_samples

        if new_burst:
            if last_out is None:
                out = 0
            else:
                advance = max(self._last_samples, round(elapsed * self._clock_rate))
                out = last_out + min(advance, MAX_ADVANCE)
            self._force_burst = False
            self.bursts += 1

        sequence_out = self._next_sequence
        self._next_sequence = (sequence_out + 1) % SEQ_MOD
        self._last_out = out
        self._last_now = now
        self._last_samples = samples
        self._source = source
        self._in_sequence = sequence
        self._in_timestamp = timestamp
        self.packets += 1
        return _new_rewritten(
            Rewritten,
            (sequence_out, (self._initial_timestamp + out) % TS_MOD,
             new_burst or (marker and gap), out),
        )
