"""Where the radio and dispatch meet: domain events on the bus, translated here.

``ptt`` and ``dispatch`` never import each other. This feature, started after both, wires:

- an officer's PTT emergency (:class:`ptt.events.EmergencyRaised`) → a radio alert on the
  dispatch console (:meth:`DispatchService.record_radio_alert`), with the officer's last
  known position, which a dispatcher can turn into an incident;
- an assignment's request for an incident talkgroup
  (:class:`dispatch.events.IncidentTalkgroupRequested`) → a dynamic talkgroup on the radio
  for the responders and the dispatcher. Later requests for the same incident find the
  talkgroup open and leave it as it is (members are not added to a running group);
- an incident closed or cancelled (:class:`dispatch.events.IncidentEnded`) → its talkgroup
  closed (its recordings kept under the normal retention). An incident that never had one,
  or whose group a dispatcher already closed, changes nothing.

On several nodes none of these events crosses NATS: each is handled on the node where it arises.
An emergency arises where the officer is connected, which is also where their last position
is known; the alert it records reaches every node's consoles on the dispatch stream. The
incident talkgroup is opened by the node where the assignment was made and stored in the
database; the other nodes' radios know of it only as far as the radio shares talkgroups
across nodes (the radio's concern, not the bridge's).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dispatch.events import IncidentEnded, IncidentTalkgroupRequested
from ptt.errors import CommandRefused
from ptt.events import EmergencyRaised
from ptt.server.dynamic import NoSuchTalkgroup, TalkgroupExists, close_talkgroup, open_talkgroup

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kernel.runtime import Runtime

log = logging.getLogger("siaga.bridge")


class BridgeFeature:
    def mount(self, app: FastAPI, runtime: Runtime) -> None:
        return None

    async def start(self, runtime: Runtime) -> None:
        bus = runtime.services["bus"]
        radio = runtime.services["radio"]
        dispatch = runtime.services["dispatch"]

        async def on_emergency(event: EmergencyRaised) -> None:
            who = event.raised_by
            client = radio.clients.get(who.user_id)
            position = client.position if client is not None else None
            received = datetime.now(UTC)
            group = radio.radio.roster.talkgroups.get(event.talkgroup)
            await dispatch.record_radio_alert(
                event.talkgroup, who.user_id, who.username, who.display_name, who.unit,
                position[0] if position else None, position[1] if position else None,
                event.reported_at or received, received,
                talkgroup_name=group.name if group is not None else None,
            )

        async def on_talkgroup(request: IncidentTalkgroupRequested) -> None:
            try:
                await open_talkgroup(runtime.sessions, radio, code=request.code,
                                     name=request.name, members=request.member_user_ids,
                                     incident_ref=request.number)
            except TalkgroupExists:
                log.info("incident talkgroup already open", extra={"code": request.code})
                return
            log.info("incident talkgroup opened", extra={"code": request.code,
                                                         "incident": request.number})

        async def on_ended(ended: IncidentEnded) -> None:
            try:
                await close_talkgroup(runtime.sessions, radio, ended.code)
            except (NoSuchTalkgroup, CommandRefused):  # none opened, or not an incident's
                return
            log.info("incident talkgroup closed", extra={"code": ended.code,
                                                         "incident": ended.number})

        bus.subscribe(EmergencyRaised, on_emergency)
        bus.subscribe(IncidentEnded, on_ended)
        bus.subscribe(IncidentTalkgroupRequested, on_talkgroup)

    async def stop(self, runtime: Runtime) -> None:
        return None
