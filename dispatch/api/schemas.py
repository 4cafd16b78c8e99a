"""Request bodies of the dispatch API (responses are :mod:`dispatch.service.views`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dispatch.domain import BedCategory, Capability, Complaint, Source, Triage
from dispatch.lifecycle import Trigger
from kernel.db import MAX_ROW_ID

Name = Field(default="", max_length=120)
AgeUnit = Literal["days", "months", "years"]
AGE_UNIT_TEXT = "Unit of patient_age: days (a newborn), months or years"
PatientAge = Field(default=None, ge=0, le=150, description="The patient's age as the caller "
                   "gives it, in patient_age_unit; under 28 days is a neonate, under 18 "
                   "years a child (null: not known)")
ARREST_TEXT = ("Cardiac arrest (henti jantung): nearest unit first, ALS as well; "
               "needs triage merah")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentIn(_Body):
    source: Source = Field(default=Source.CALL_119, description="119, 112, radio or walk_in")
    caller_name: str = Name
    caller_phone: str | None = Field(default=None, max_length=32,
                                     description="E.164, or Indonesian local form (0812...)")
    address: str = Field(default="", max_length=300)
    landmark: str = Field(default="", max_length=200,
                          description="A landmark near the scene (patokan), sent to the crew")
    kelurahan: str = Field(min_length=1, max_length=40, description="Kelurahan code")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    location_approximate: bool = Field(
        default=False, description="The position (lat/lon) is approximate, e.g. a gazetteer "
        "place not surveyed; without lat/lon the kelurahan centre is always approximate")
    complaint: Complaint
    triage: Triage
    patients: int = Field(default=1, ge=1, le=500)
    notes: str = Field(default="", max_length=2000)
    determinant: str | None = Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z-]+$",
                                    description="Optional dispatch determinant code")
    patient_age: int | None = PatientAge
    patient_age_unit: AgeUnit = Field(default="years", description=AGE_UNIT_TEXT)
    cardiac_arrest: bool = Field(default=False, description=ARREST_TEXT)


class IncidentPatch(_Body):
    version: int | None = Field(default=None, description="Refuse (409) if no longer current")
    source: Source | None = None
    caller_name: str | None = Field(default=None, max_length=120)
    caller_phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=300)
    landmark: str | None = Field(default=None, max_length=200)
    kelurahan: str | None = Field(default=None, min_length=1, max_length=40)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    complaint: Complaint | None = None
    triage: Triage | None = None
    patients: int | None = Field(default=None, ge=1, le=500)
    notes: str | None = Field(default=None, max_length=2000)
    determinant: str | None = Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z-]*$")
    patient_age: int | None = PatientAge
    patient_age_unit: AgeUnit | None = Field(default=None, description=AGE_UNIT_TEXT)
    cardiac_arrest: bool | None = Field(default=None, description=ARREST_TEXT)

    @model_validator(mode="after")
    def _no_null_where_a_value_is_needed(self) -> IncidentPatch:
        for name in sorted(self.model_fields_set & NOT_NULL):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent; ``null`` lat/lon/phone/determinant clear them."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k != "version"}


NOT_NULL = frozenset({"source", "caller_name", "address", "landmark", "kelurahan", "complaint",
                      "triage", "patient_age_unit", "cardiac_arrest",
                      "patients", "notes"})


#: A row id in a body: beyond the schema's keys it is a 422, never a database error.
BodyId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


class AssignIn(_Body):
    unit_id: BodyId
    hospital_id: BodyId | None = None
    patients: int | None = Field(
        default=None, ge=0, le=500,
        description="How many of the incident's patients this unit carries (0: none, a "
                    "support unit); default: every patient not yet carried")


class ReopenIn(_Body):
    patients: int | None = Field(default=None, ge=1, le=500,
                                 description="The incident's new patient count, if it changed")


class ReassignIn(_Body):
    unit_id: BodyId


class DestinationIn(_Body):
    hospital_id: BodyId | None


class StatusIn(_Body):
    trigger: Trigger = Field(description="acknowledge, depart, arrive, transport, "
                                         "reach_hospital, hand_over, clear, decline, cancel")


class UnitServiceIn(_Body):
    in_service: bool


class BedIn(_Body):
    category: BedCategory
    total: int = Field(ge=0, le=10_000)
    free: int = Field(ge=0, le=10_000)


class BedsIn(_Body):
    beds: list[BedIn] = Field(min_length=1, max_length=len(BedCategory))


class AcceptingIn(_Body):
    accepting: bool


class CapabilitiesIn(_Body):
    unavailable: list[Capability] = Field(max_length=len(Capability))
    note: str = Field(default="", max_length=200)


class PhoneIn(_Body):
    phone: str | None = Field(max_length=32, description="E.164, or Indonesian local form")


class AlertIncidentIn(_Body):
    complaint: Complaint
    triage: Triage
    kelurahan: str | None = Field(default=None, min_length=1, max_length=40,
                                  description="Default: nearest to the alert's position")
    caller_name: str | None = Field(default=None, max_length=120)
    caller_phone: str | None = Field(default=None, max_length=32)
    address: str = Field(default="", max_length=300)
    landmark: str = Field(default="", max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    location_approximate: bool = Field(
        default=False, description="The position (lat/lon) is approximate, e.g. a gazetteer "
        "place not surveyed; without lat/lon the kelurahan centre is always approximate")
    patients: int = Field(default=1, ge=1, le=500)
    notes: str | None = Field(default=None, max_length=2000)
    determinant: str | None = Field(default=None, max_length=20, pattern=r"^[0-9A-Za-z-]+$")
    patient_age: int | None = PatientAge
    patient_age_unit: AgeUnit = Field(default="years", description=AGE_UNIT_TEXT)
    cardiac_arrest: bool = Field(default=False, description=ARREST_TEXT)
