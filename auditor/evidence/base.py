"""The base of every evidence record: frozen once built; lenient when read (unknown fields are
ignored), strict in the published schema (no field that is not documented)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_extra={"additionalProperties": False},
                              use_enum_values=False)
