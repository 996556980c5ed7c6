"""Records of where a suspect clip says it came from: C2PA Content Credentials, container
metadata and the generation context the user supplied (part of auditor.evidence/1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import Record


class ActiveManifest(Record):
    """The active C2PA manifest, summarised."""

    label: str | None = Field(None, description="Manifest label.")
    title: str | None = Field(None, description="Title the manifest gives the asset.")
    claim_generator: str | None = Field(None, description="Software that made the claim.")
    signer: str | None = Field(None, description="Common name of the signing certificate.")
    certificate_issuer: str | None = Field(None, description="Issuer of the signing certificate.")
    signing_time: str | None = Field(None, description="Signing time, when stated.")
    signature_algorithm: str | None = Field(None, description="Signature algorithm.")
    actions: tuple[dict[str, Any], ...] = Field(
        (), description="c2pa.actions: action, digital source type, software agent, when.")
    digital_source_types: tuple[str, ...] = Field((), description="IPTC digital source types the actions state.")
    ai_generated: bool = Field(False, description="Whether a source type says trained-algorithmic (AI) media.")
    ingredients: tuple[dict[str, Any], ...] = Field((), description="Ingredients: title, format, relationship, instance id.")


class ContentCredentials(Record):
    """The clip's C2PA Content Credentials as read and validated."""

    status: Literal["valid", "invalid", "absent", "unreadable", "unsupported"] = Field(description="Outcome of reading.")
    summary: str = Field(description="The outcome in English.")
    library: str | None = Field(None, description="The C2PA library used.")
    validation_state: str | None = Field(None, description="The library's validation state.")
    signer_trusted: bool | None = Field(None, description="Whether the signer is on a trust list the library knows.")
    reasons: tuple[Any, ...] = Field((), description="Validation failures (code, explanation) or read errors.")
    active_manifest: ActiveManifest | None = Field(None, description="The active manifest, summarised.")
    manifests: int | None = Field(None, description="Manifests in the store.")


class Container(Record):
    """What the container itself states."""

    readable: bool = Field(description="Whether OpenCV/FFmpeg could open it.")
    container: str | None = Field(None, description="Container type, from the file name.")
    codec: str | None = Field(None, description="Video codec (FourCC).")
    width: int | None = Field(None, description="Width the container states.")
    height: int | None = Field(None, description="Height the container states.")
    fps: float | None = Field(None, description="Frame rate the container states.")
    frame_count: int | None = Field(None, description="Frame count the container states.")
    duration_s: float | None = Field(None, description="frame_count / fps.")
    reader: str | None = Field(None, description="What read it.")
    creation_time: str | None = Field(None, description="Creation time in the MP4 header, if any.")
    encoder: str | None = Field(None, description="Encoder tag, if any.")


class Context(Record):
    """Generation context the user supplied (not verified)."""

    user_supplied: bool = Field(True, description="Always true: this is the user's statement.")
    source: str = Field(description="The context file.")
    sha256: str = Field(description="SHA-256 of the context file.")
    text: str = Field(description="The file verbatim.")
    fields: dict[str, Any] = Field(description="Its fields as parsed.")


class Provenance(Record):
    """Where the clip says it came from."""

    content_credentials: ContentCredentials = Field(description="C2PA Content Credentials.")
    container: Container = Field(description="Container metadata.")
    context: Context | None = Field(None, description="User-supplied generation context, if any.")
