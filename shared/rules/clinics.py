"""The clinic seed file (``deploy/seed/clinics.json``): one format for the gateway and the АРМ."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from shared.wire.ids import parse_bin

DEFAULT_CLINICS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "seed" / "clinics.json"


class ScheduleTemplate(BaseModel):
    weekdays: list[int]
    start: str
    end: str
    slot_minutes: int = Field(gt=0, le=240)
    breaks: list[tuple[str, str]] = []


class DoctorSeed(BaseModel):
    code: str
    name: str
    specialty: str
    room: str
    site: int | None
    template: ScheduleTemplate


class SiteSeed(BaseModel):
    number: int
    doctor: str
    streets: list[str]


class ClinicSeed(BaseModel):
    bin: str
    name: str
    short_name: str
    district: str
    address: str
    phone: str
    fsms_contract: bool
    capacity: int
    hours: dict[str, tuple[str, str]]
    sites: list[SiteSeed]
    doctors: list[DoctorSeed]

    @field_validator("bin")
    @classmethod
    def _valid_bin(cls, value: str) -> str:
        parse_bin(value)
        return value


class ClinicsFile(BaseModel):
    timezone: str
    clinics: list[ClinicSeed]


def load_clinics(path: Path = DEFAULT_CLINICS_FILE) -> ClinicsFile:
    return ClinicsFile.model_validate_json(Path(path).read_bytes())
