"""WebRTC voice for the radio: the :class:`VoiceRelay` driven by the signaling service.

The relay knows peers, downlink tracks and routes; this adapter translates the radio's
decisions into them (rules 1–3) and carries SDP over the signaling WebSocket (rule 4):

1. Downlinks: a client with a peer connection gets one receive track per talkgroup it has
   joined. Whenever its joined talkgroups change the server renegotiates (a server offer
   listing which m-line carries which talkgroup); a change made while an offer is still
   unanswered is applied right after the answer.
2. Routes: when a floor is granted, the talker's packets go to every listener of the floor
   on the listener's track for that floor (see ``RadioService._route``); when the burst ends
   the route is cleared. Packets from anyone else are dropped by the relay and counted.
3. Every packet from a client feeds the floor (no-media timer, taking a queued grant). A
   peer connection that closes (the client closed it, or it failed) ends the floor its
   client holds at once (``RadioService.media_closed``) instead of at the no-media timer;
   the server replacing or closing a peer itself does not count.
4. Messages: client ``rtc_offer`` → server ``rtc_answer``; server ``rtc_offer`` (with
   ``downlinks``: mid → talkgroup) → client ``rtc_answer``. A bad SDP is answered with an
   ``error`` (``bad_sdp``) and leaves everything else untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiortc import RTCIceServer, RTCPeerConnection

from ptt import protocol as p
from ptt.media.ports import PortRange
from ptt.media.relay import (
    RelayError,
    RenegotiationPending,
    SignalingError,
    UnknownPeer,
    VoiceRelay,
)
from ptt.server.service import Client, RadioService
from ptt.server.signaling import Signaling

log = logging.getLogger("ptt.voice")


def ice_servers_for_aiortc(servers: list[dict[str, Any]]) -> list[RTCIceServer]:
    return [RTCIceServer(urls=s["urls"], username=s.get("username"),
                         credential=s.get("credential")) for s in servers]


class WebRtcVoice:
    """A :class:`ptt.server.service.MediaPlane` over WebRTC."""

    def __init__(self, service: RadioService, signaling: Signaling,
                 ice_servers: list[dict[str, Any]], *, public_ips: Sequence[str] = (),
                 ice_ports: PortRange | None = None) -> None:
        self.service = service
        self.relay = VoiceRelay(ice_servers=ice_servers_for_aiortc(ice_servers),
                                on_media=self._on_media, clock=service.loop.time,
                                public_ips=public_ips, ice_ports=ice_ports)
        self._dirty: set[int] = set()
        service.media.append(self)
        signaling.on_command["rtc_offer"] = self._offer
        signaling.on_command["rtc_answer"] = self._answer

    async def close(self) -> None:
        await self.relay.close()

    # -- MediaPlane ---------------------------------------------------------------------

    def route(self, talker: int, deliveries: dict[int, str]) -> None:
        numbers = self.service.numbers
        self.relay.set_route(str(talker), [(str(listener), numbers[tg])
                                           for listener, tg in deliveries.items()])

    def unroute(self, talker: int) -> None:
        self.relay.clear_route(str(talker))

    def client_gone(self, user: int) -> None:
        self._dirty.discard(user)
        asyncio.create_task(self.relay.close_peer(str(user)))

    def membership_changed(self, user: int) -> None:
        if str(user) in self.relay.clients:
            asyncio.create_task(self._sync_downlinks(user))

    # -- signaling ----------------------------------------------------------------------

    async def _offer(self, client: Client, cmd: p.RtcOffer) -> None:
        user = client.identity.user_id
        try:
            answer = await self.relay.open_peer(str(user), cmd.sdp)
        except RelayError as exc:
            log.info("bad offer", extra={"user": client.identity.username, "reason": str(exc)})
            self.service.send(client, p.error_message("bad_sdp", str(exc), cmd.ref))
            return
        self._watch(user, self.relay.peer_connection(str(user)))
        self.service.send(client, p.message("rtc_answer", cmd.ref, sdp=answer))
        await self._sync_downlinks(user)

    def _watch(self, user: int, pc: RTCPeerConnection) -> None:
        """Rule 3: the client's peer closing ends its floor now. A plain (not async) handler,
        so it runs while ``pc`` is still the client's peer (the relay drops a failed peer
        in a task of its own)."""
        def on_state() -> None:
            if pc.connectionState not in ("closed", "failed"):
                return
            try:
                current = self.relay.peer_connection(str(user))
            except UnknownPeer:
                return  # the server closed it (client gone, a new offer)
            if current is pc:
                log.info("peer closed by the client", extra={"user": user,
                                                             "state": pc.connectionState})
                self.service.media_closed(user)

        pc.on("connectionstatechange", on_state)

    async def _answer(self, client: Client, cmd: p.RtcAnswer) -> None:
        user = client.identity.user_id
        try:
            await self.relay.accept_answer(str(user), cmd.sdp)
        except RelayError as exc:
            # aiortc cannot roll back an offer: close the peer, the client offers again.
            self.service.send(client, p.error_message("bad_sdp", str(exc), cmd.ref))
            await self.relay.close_peer(str(user))
            return
        self.service.reroute()
        if user in self._dirty:
            self._dirty.discard(user)
            await self._sync_downlinks(user)

    async def _sync_downlinks(self, user: int) -> None:
        client = self.service.clients.get(user)
        if client is None or str(user) not in self.relay.clients:
            return
        numbers = self.service.numbers
        groups = self.service.radio.roster.groups(user) if self.service.radio.roster.is_connected(
            user) else ()
        try:
            offer = await self.relay.set_downlinks(str(user), [numbers[g] for g in groups])
        except RenegotiationPending:
            self._dirty.add(user)
            return
        except SignalingError as exc:
            log.warning("renegotiation failed", extra={"user": user, "reason": str(exc)})
            return
        if offer is None:
            return
        by_number = {n: code for code, n in numbers.items()}
        mids = {mid: by_number[tg] for tg, mid in self.relay.downlink_mids(str(user)).items()}
        self.service.send(client, p.message("rtc_offer", sdp=offer, downlinks=mids))

    # -- media --------------------------------------------------------------------------

    def _on_media(self, client_id: str, now: float) -> None:
        self.service.media_received(int(client_id))
