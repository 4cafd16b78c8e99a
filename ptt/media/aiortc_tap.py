"""Former home of the media layer's aiortc adapters, kept as a re-export for callers outside
``ptt/media`` (the ``siaga-radio`` client, older tests) until they import from the modules
that now hold each part: ``tap`` (receive), ``fast_sender`` and ``native`` (send),
``timers`` (RTCP and consent checks on the grid), ``downlink`` (packet track,
re-offers) and ``hooks`` (the checks of every private part they rely on).
"""

from __future__ import annotations

from ptt.media.downlink import TIME_BASE, PacketTrack, create_renegotiation_offer
from ptt.media.fast_sender import FastRtpSender, ntp_time
from ptt.media.hooks import AiortcHookError, check_aiortc_hooks
from ptt.media.native import NATIVE_SEND, NativeRetimer, native_fan_out
from ptt.media.tap import ReceiverTap, install_direct_rtp, opus_payload_types
from ptt.media.timers import (
    RTCP_INTERVAL,
    TIMER_GRID,
    align_consent_checks,
    on_grid,
    relax_peer_rtcp,
    relax_rtcp,
)

__all__ = [
    "NATIVE_SEND",
    "RTCP_INTERVAL",
    "TIMER_GRID",
    "TIME_BASE",
    "AiortcHookError",
    "FastRtpSender",
    "NativeRetimer",
    "PacketTrack",
    "ReceiverTap",
    "align_consent_checks",
    "check_aiortc_hooks",
    "create_renegotiation_offer",
    "install_direct_rtp",
    "native_fan_out",
    "ntp_time",
    "on_grid",
    "opus_payload_types",
    "relax_peer_rtcp",
    "relax_rtcp",
]
