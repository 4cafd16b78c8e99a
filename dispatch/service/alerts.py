"""Radio alerts: an officer's PTT emergency, handed to dispatch as an event.

``dispatch`` never imports ``ptt``: the composition root subscribes to the radio's emergency
events and calls :meth:`Alerts.record_radio_alert`. An alert stays OPEN on the console until
a dispatcher turns it into an incident (prefilled with who and where) or dismisses it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.domain import Complaint, Label, Source, Triage
from dispatch.service.actor import Actor
from dispatch.service.base import Outbox
from dispatch.service.errors import Conflict, InvalidInput, NotFound
from dispatch.service.incidents import IncidentInput, Incidents
from dispatch.service.present import alert_view
from dispatch.service.validation import nearest
from dispatch.service.views import IncidentView, RadioAlertView
from dispatch.store import repo
from dispatch.store.models import RadioAlertRow
from dispatch.store.records import snapshot
from dispatch.travel import LatLon
from kernel.identity import User


@dataclasses.dataclass(frozen=True, slots=True)
class AlertIncidentInput:
    """The dispatcher's fields; whatever is left out is taken from the alert."""

    complaint: Complaint
    triage: Triage
    kelurahan: str | None = None
    caller_name: str | None = None
    caller_phone: str | None = None
    address: str = ""
    landmark: str = ""
    lat: float | None = None
    lon: float | None = None
    location_approximate: bool = False
    patients: int = 1
    notes: str | None = None
    determinant: str | None = None
    patient_age: int | None = None
    patient_age_unit: str = "years"
    cardiac_arrest: bool = False


class Alerts(Incidents):
    async def record_radio_alert(
        self, talkgroup: str, user_id: int, username: str, display_name: str, unit: str | None,
        lat: float | None, lon: float | None, at: datetime,
        received_at: datetime | None = None, talkgroup_name: str | None = None,
    ) -> RadioAlertView:
        """Store an officer's emergency (from the radio, via the composition root): ``at``
        when it was raised, ``received_at`` when it reached the server (default ``at``)."""

        async def command(s: AsyncSession, out: Outbox) -> RadioAlertView:
            row = RadioAlertRow(talkgroup=talkgroup, user_id=user_id, username=username,
                                display_name=display_name, unit=unit, lat=lat, lon=lon, at=at,
                                received_at=received_at or at, status="OPEN",
                                talkgroup_name=talkgroup_name)
            s.add(row)
            await s.flush()
            self.audit(s, Actor(username, user_id), at, "radio_alert", row.id, "raised", None,
                       snapshot(row))
            view = alert_view(row)
            out.message("alert.created", at, alert=view.model_dump(mode="json"))
            return view

        return await self.run(command)

    async def convert_alert(
        self, alert_id: int, data: AlertIncidentInput, *, actor: Actor,
        now: datetime | None = None,
    ) -> IncidentView:
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> IncidentView:
            alert = await self.open_alert(s, alert_id)
            lat, lon = data.lat, data.lon
            if lat is None and lon is None:
                lat, lon = alert.lat, alert.lon
            kelurahan = data.kelurahan or self.nearest_kelurahan(lat, lon)
            if kelurahan is None:
                raise InvalidInput("kelurahan_required", Label(
                    "Alarm tanpa posisi: pilih kelurahan", "Alert has no position: pick a "
                    "kelurahan"))
            who = alert.display_name + (f" ({alert.unit})" if alert.unit else "")
            phone = data.caller_phone
            if phone is None:
                user = await s.get(User, alert.user_id)
                phone = user.phone if user is not None else None
            incident = await self.insert_incident(s, out, IncidentInput(
                source=Source.RADIO, kelurahan=kelurahan, complaint=data.complaint,
                triage=data.triage, caller_name=data.caller_name or who, caller_phone=phone,
                address=data.address, landmark=data.landmark, lat=lat, lon=lon,
                location_approximate=data.location_approximate,
                patients=data.patients,
                notes=data.notes if data.notes is not None else
                f"Alarm darurat radio dari {who}, kanal {alert.talkgroup_name or alert.talkgroup}",
                determinant=data.determinant, patient_age=data.patient_age,
                patient_age_unit=data.patient_age_unit, cardiac_arrest=data.cardiac_arrest,
            ), actor, at, radio_alert_id=alert.id)
            await self.close_alert(s, out, alert, "CONVERTED", actor, at, incident.id)
            return self.incident_view(incident)

        return await self.run(command)

    async def dismiss_alert(
        self, alert_id: int, *, actor: Actor, now: datetime | None = None
    ) -> RadioAlertView:
        at = now or self.now()

        async def command(s: AsyncSession, out: Outbox) -> RadioAlertView:
            alert = await self.open_alert(s, alert_id)
            await self.close_alert(s, out, alert, "DISMISSED", actor, at, None)
            return alert_view(alert)

        return await self.run(command)

    async def list_alerts(self, status: str | None = None, limit: int = 100
                          ) -> list[RadioAlertView]:
        async with self.sessions() as s:
            rows = await repo.radio_alerts(s, status.upper() if status else None, limit)
        return [alert_view(r) for r in rows]

    async def open_alert(self, s: AsyncSession, alert_id: int) -> RadioAlertRow:
        alert = await repo.radio_alert(s, alert_id)
        if alert is None:
            raise NotFound("alert", alert_id)
        if alert.status != "OPEN":
            raise Conflict("alert_closed", Label(
                f"Alarm sudah ditangani ({alert.status.lower()})",
                f"Alert already handled ({alert.status.lower()})"),
                {"alert": alert_view(alert).model_dump(mode="json")})
        return alert

    async def close_alert(
        self, s: AsyncSession, out: Outbox, alert: RadioAlertRow, status: str, actor: Actor,
        now: datetime, incident_id: int | None,
    ) -> None:
        before = snapshot(alert)
        alert.status = status
        alert.incident_id = incident_id
        alert.handled_by_id = actor.user_id
        alert.handled_at = now
        await s.flush()
        self.audit(s, actor, now, "radio_alert", alert.id, status.lower(), before,
                   snapshot(alert), incident_id)
        out.message("alert.updated", now, alert=alert_view(alert).model_dump(mode="json"))

    def nearest_kelurahan(self, lat: float | None, lon: float | None) -> str | None:
        if lat is None or lon is None:
            return None
        return nearest(((p.kelurahan_code, c) for p, c in self.places().values()),
                       LatLon(lat, lon))
