"""The configuration's tables as typed models: what each setting may be.

`auditor.config` loads the TOML preset and a user's file into these (and composes `[channels]`
from the registered channels' own `Settings`); a channel declares its table by subclassing
`Table`. Every model refuses unknown keys, takes strict types (a whole number may stand for a
float, nothing else converts) and finite numbers only; a range is a field constraint, settings
that must agree are checked by the table's validator (`Refused` names the setting).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, overload

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .errors import UsageError
from .evidence.rules import Level

TableT = TypeVar("TableT", bound=BaseModel)
HASH_BITS = 256  # PDQ hashes and ORB descriptors
LEVELS = tuple(str(level) for level in Level)


class Refused(ValueError):
    """A setting that does not agree with another one (raised by a table's validator)."""

    def __init__(self, key: str, allowed: str):
        self.key, self.allowed = key, allowed
        super().__init__(allowed)


class Table(BaseModel):
    """One table of the configuration: known keys only, strict types, finite numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, validate_assignment=True)


class AnyTable(Table):
    """The table of a channel whose own `Settings` cannot be known here (its plugin does not
    import): any keys, kept as given."""

    model_config = ConfigDict(extra="allow", strict=False)


def allowed(text: str) -> Any:
    """Field metadata: what a list-valued setting may hold, in words (its error message)."""
    return {"allowed": text}


def _every_limit(value):
    if not value > 0:
        raise ValueError("every limit must be > 0")
    return value


Limit = Annotated[int, AfterValidator(_every_limit)]
LimitSeconds = Annotated[float, AfterValidator(_every_limit)]


# -- the tables ---------------------------------------------------------------------------------
class SamplingReference(Table):
    fps: float = Field(gt=0, le=1000)
    still_tiles: list[Annotated[int, Field(ge=2, le=8)]] = Field(
        json_schema_extra=allowed("a list of whole numbers from 2 to 8"))


class SamplingQuery(Table):
    fps: float = Field(gt=0, le=1000)
    short_clip_s: float = Field(ge=0, le=3600)
    short_clip_fps: float = Field(gt=0, le=1000)
    cut_min_diff: float = Field(gt=0, le=255)


class Sampling(Table):
    max_side: int = Field(ge=16, le=8192)
    held_frame_max_diff: float = Field(ge=0, le=255)
    decode_threads: int = Field(ge=0, le=64)
    reference: SamplingReference
    query: SamplingQuery


class Limits(Table):
    max_file_bytes: Limit
    max_duration_s: LimitSeconds
    max_width: Limit
    max_height: Limit
    max_pixels: Limit
    max_sampled_frames: Limit
    max_decoded_frames: Limit


class Index(Table):
    exact_max_float: int = Field(ge=0)
    exact_max_binary: int = Field(ge=0)
    exact_max_local: int = Field(ge=0)
    local_structure: Literal["ivf", "words"] = Field(json_schema_extra=allowed("'ivf' or 'words'"))
    nprobe_float: int = Field(ge=1)
    nprobe_binary: int = Field(ge=1)


class Search(Table):
    top_k: int = Field(ge=1, le=10_000)
    shards_per_relay: int = Field(ge=0)

    @model_validator(mode="after")
    def _relays_ask_two_or_more(self):
        if self.shards_per_relay == 1:
            raise Refused("shards_per_relay", "0 (no relays) or at least 2 (a relay asks that many)")
        return self


class Segments(Table):
    offset_tolerance_s: float = Field(ge=0)
    min_speed: float = Field(gt=0)
    max_speed: float = Field(gt=0)
    max_gap_s: float = Field(gt=0)
    min_frames: int = Field(ge=1)
    min_duration_s: float = Field(ge=0)
    hits_per_query_frame: int = Field(ge=1)
    fit_min_baseline_share: float = Field(ge=0, le=1)
    overlap_max_share: float = Field(ge=0, le=1)
    bridge_max_gap_s: float = Field(ge=0)
    reversed: bool
    score_prior_frames: float = Field(ge=0)
    guided: bool
    guided_max_unsupported_s: float = Field(ge=0)
    guided_window_s: float = Field(ge=0)
    guided_control_min_s: float = Field(gt=0)
    guided_control_frames: int = Field(ge=1)
    guided_min_control_frames: int = Field(ge=1)
    guided_picture: bool
    guided_picture_min_correlation: float = Field(ge=-1, le=1)
    guided_picture_margin: float = Field(ge=0, le=2)

    @model_validator(mode="after")
    def _speeds_in_order(self):
        if not self.min_speed < self.max_speed:
            raise Refused("min_speed", f"must be below 'segments.max_speed' ({self.max_speed!r})")
        return self


class Verify(Table):
    enabled: bool
    pairs_per_segment: int = Field(ge=1)
    extra_pairs_when_inconclusive: int = Field(ge=0)
    max_segments: int = Field(ge=0)
    keep_query_frames_mb: int = Field(ge=0)
    sift_features: int = Field(ge=1)
    ratio: float = Field(gt=0, le=1)
    ransac_threshold_px: float = Field(gt=0)
    ransac_max_iterations: int = Field(ge=1)
    min_inliers: int = Field(ge=3)
    min_inliers_small: int = Field(ge=3)
    min_inlier_ratio_small: float = Field(gt=0, le=1)
    min_verified_share: float = Field(gt=0, le=1)
    min_scale: float = Field(gt=0)
    max_scale: float = Field(gt=0)
    max_anisotropy: float = Field(ge=1)
    near_identical_min_inliers: int = Field(ge=3)
    points_kept_per_pair: int = Field(ge=0)

    @model_validator(mode="after")
    def _scales_in_order(self):
        if not self.min_scale < self.max_scale:
            raise Refused("min_scale", f"must be below 'verify.max_scale' ({self.max_scale!r})")
        return self


class Exhibits(Table):
    max_segments: int = Field(ge=0)
    pairs_per_segment: int = Field(ge=0)
    max_side: int = Field(ge=16, le=8192)


class Calibration(Table):
    decorrelation_s: float = Field(ge=0)
    max_expected_false_matches: float = Field(ge=0)
    hold_verified_segments: bool
    min_p_value: float = Field(gt=0, le=1)
    tail_min_null_values: int = Field(ge=1)
    frames_per_work: int = Field(ge=1)
    seed: int = Field(ge=0)
    exclude_margin: int = Field(ge=0)
    min_null_frames: int = Field(ge=1)
    min_background_minutes: float = Field(ge=0)
    assumed_frame_correlation: float = Field(ge=0, lt=1)


def _crop(box: list[float]) -> list[float]:
    if not (len(box) == 4 and all(0 <= x <= 1 for x in box) and box[0] < box[2] and box[1] < box[3]):
        raise ValueError("not a crop")
    return box


class Resemblance(Table):
    top_share: float = Field(gt=0, le=1)
    min_frames: int = Field(ge=1)
    crop_every_s: float = Field(gt=0)
    crops: list[Annotated[list[float], AfterValidator(_crop)]] = Field(json_schema_extra=allowed(
        "a list of [x0, y0, x1, y1] shares of the frame, 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1"))
    neighbours: int = Field(ge=1)
    draws: int = Field(ge=1)
    seed: int = Field(ge=0)
    max_expected_false_matches: float = Field(ge=0)
    gallery_size: int = Field(ge=0)
    gallery_spacing_s: float = Field(ge=0)


class EvidenceTable(Table):
    top_matches_per_frame: int = Field(ge=0)


class Moments(Table):
    enabled: bool
    max_candidates: int = Field(ge=0, le=64)


class Verdict(Table):
    flag_levels: list[Literal[LEVELS]] = Field(  # type: ignore[valid-type]
        json_schema_extra=allowed("a list of levels among " + ", ".join(repr(x) for x in LEVELS)))


class ChannelsBase(Table):
    """`[channels]`: the default channels, then one table per registered channel (composed by
    `channels_model` from each channel's `Settings`)."""

    default: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, json_schema_extra=allowed("a non-empty list of channel names"))

    @overload
    def of(self, name: str) -> BaseModel: ...
    @overload
    def of(self, name: str, kind: type[TableT]) -> TableT: ...

    def of(self, name: str, kind: type[BaseModel] = BaseModel) -> BaseModel:
        """Channel `name`'s table; with `kind` (the channel's `Settings` model), one of those, so
        that the channel's own code reads its settings typed."""
        table = getattr(self, name, None)
        if not isinstance(table, kind):
            raise UsageError(f"the configuration has no [channels.{name}] table for channel '{name}'")
        return table


class Configuration(Table):
    """Every table of the configuration; `auditor.config.Config` is this with `[channels]`
    composed from the registered channels."""

    sampling: Sampling
    limits: Limits
    channels: ChannelsBase
    index: Index
    search: Search
    segments: Segments
    verify: Verify
    exhibits: Exhibits
    calibration: Calibration
    resemblance: Resemblance
    moments: Moments
    evidence: EvidenceTable
    verdict: Verdict
