"""Typed records of `auditor.evidence/1`, the evidence a scan writes for one suspect clip.

These records are the public contract: `auditor schema evidence` prints the JSON Schema they
generate, every field documented. Records are built once and never changed (frozen). Readers
are lenient (unknown fields are ignored, fields added since the first files have defaults, so
every file written so far still reads); the schema is strict (no field that is not documented).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import ConfigDict, Field, model_validator

from .base import Record
from .provenance import Provenance
from .rules import Level, RuleOutcome

# a segment's frame records live in spans.py; they are read here too, as `ev.Pair` and so on
from .spans import GuidedFigure as GuidedFigure
from .spans import GuidedPair as GuidedPair
from .spans import Pair as Pair
from .spans import SpanPart as SpanPart
from .strength import Chance as Chance
from .strength import NullBasis as NullBasis
from .strength import NullSource as NullSource

SCHEMA: Final = "auditor.evidence/1"


class VerificationStatus(StrEnum):
    VERIFIED = "verified"
    NOT_VERIFIED = "not verified"
    UNAVAILABLE = "unavailable"


# -- the clip -------------------------------------------------------------------------------------
class Clip(Record):
    """The suspect clip as read."""

    path: str = Field(description="Path of the clip as given to the scan.")
    kind: Literal["video", "still"] = Field(description="A video, or a still image.")
    sha256: str = Field(description="SHA-256 of the clip file's bytes.")
    size_bytes: int = Field(description="Size of the clip file in bytes.")
    width: int = Field(description="Picture width in pixels (after rotation metadata).")
    height: int = Field(description="Picture height in pixels (after rotation metadata).")
    fps: float = Field(description="Frame rate the container states (or measured, where it states none).")
    duration_s: float = Field(description="Duration in seconds, from the last decoded frame's timestamp.")
    frames_decoded: int = Field(description="Frames the decoder produced.")
    frames_sampled: int = Field(description="Frames sampled for matching.")
    rotation: int = Field(0, description="Rotation metadata in degrees, applied before sampling.")
    warnings: tuple[str, ...] = Field((), description="Notes about the file (e.g. fewer frames than the header says).")
    frames_used: dict[str, int] = Field(default_factory=dict,
                                        description="Per channel: sampled frames the channel could vouch for.")
    frames_dropped_low_quality: dict[str, int] = Field(
        default_factory=dict, description="Per channel that scores frame quality: frames dropped as featureless.")
    sampling_fps: float = Field(description="Frames per second sampled from the clip.")
    frames_embedded: int = Field(-1, description="Frames embedded; the others reused a held frame's vectors (-1: not recorded).")


class IndexChannel(Record):
    """How one channel of the index was searched by this scan."""

    structure: str = Field(description="'flat' (exact), 'ivf' (inverted lists), 'mih' (multi-index hash) or 'words' "
                                       "(visual words: an inverted file, then a short list matched exactly).")
    description: str = Field(description="The structure in words, with its parameters (for visual words, the "
                                         "vocabulary's id: a hash of its words and signature bits).")
    vectors: int = Field(description="Vectors the channel held.")
    nprobe: int | None = Field(None, description="Inverted lists searched per query (inverted-file structures).")
    on_gpu: bool = Field(False, description="Whether the search ran on a GPU.")


class IndexShards(Record):
    """How a sharded index was split (reference_index/shards.py): the evidence equals the source
    index's for exact search and inverted lists (the same neighbours, merged in canonical order)."""

    shards: int = Field(description="Number of shards, each a complete index of some of the videos.")
    by: str = Field(description="How videos were split: 'work' (a work's videos together) or 'video'.")
    manifest_sha256: str = Field(description="SHA-256 of the sharded index's top manifest.json.")
    source_id: str = Field(description="Id of the unsharded index the shards were made from.")
    source_manifest_sha256: str | None = Field(None, description="SHA-256 of that index's manifest.json when sharded.")
    shard_manifests: list[str] = Field(default_factory=list, description="SHA-256 of each shard's manifest.json.")


class IndexRef(Record):
    """The reference index the clip was scanned against."""

    id: str = Field(description="The index's id (fixed when the index was created).")
    path: str = Field(description="Folder of the index.")
    manifest_sha256: str = Field(description="SHA-256 of the index's manifest.json: names every file of the generation.")
    generation: int = Field(description="Generation of the index that was read.")
    counts: dict[str, int] = Field(default_factory=dict, description="Works, videos and frames in the catalogue.")
    channels: dict[str, IndexChannel] = Field(default_factory=dict, description="Per channel: the structure searched.")
    shards: IndexShards | None = Field(None, description="When the index was sharded: how (absent: one index).")


class Tool(Record):
    """What produced the evidence, with every parameter."""

    name: str = Field("auditor", description="The tool's name.")
    version: str = Field(description="The tool's version.")
    channels: dict[str, dict[str, Any]] = Field(
        description="Per channel: its fingerprint (id, model or algorithm, weights hash, preprocessing, source).")
    parameters: dict[str, Any] = Field(description="The whole resolved configuration the scan ran with.")
    libraries: dict[str, str] = Field(default_factory=dict, description="Versions of Python and the libraries used.")


class Runtime(Record):
    """How the scan ran: it does not change the evidence, it explains its speed."""

    devices: dict[str, str] = Field(default_factory=dict, description="Per channel: the device it ran on.")
    threads: dict[str, int | None] = Field(default_factory=dict, description="Threads of FAISS, OpenCV and torch.")
    elapsed_s: float | None = Field(None, description="Seconds the scan of this clip took.")
    searched: dict[str, Searched] = Field(default_factory=dict, description="Per channel: what its search covered.")
    pairs_verified: int | None = Field(None, description="Frame pairs geometric verification checked.")
    shards_served_by: str | None = Field(None, description="A sharded index: where its shards were searched "
                                                           "('this process', or Ray actors, one a shard).")


class Searched(Record):
    """How much of a clip a channel searched: held frames take their source frame's candidates."""

    frames: int = Field(description="Frames searched.")
    vectors: int = Field(description="Vectors (for local features: descriptors, all query variants) searched; "
                                     "a vector that occurs more than once in a clip is searched once.")


# -- matches --------------------------------------------------------------------------------------
class ChannelStat(Record):
    """A channel's summary statistic over a segment's frames."""

    frames: int = Field(description="Frames of the segment this channel hit.")
    statistic: str = Field(description="The statistic's name, e.g. 'median_distance' (PDQ bits), 'median_similarity'.")
    value: float = Field(description="Its value.")

    @model_validator(mode="before")
    @classmethod
    def _from_first_files(cls, data):
        # files written before 2026-11-25 store {"frames": n, "<statistic>": value}
        if isinstance(data, dict) and "statistic" not in data:
            rest = {k: v for k, v in data.items() if k != "frames"}
            if len(rest) == 1:
                (name, value), = rest.items()
                return {"frames": data.get("frames", 0), "statistic": name, "value": value}
        return data


class PairCheck(Record):
    """Geometric verification of one frame pair: SIFT, ratio test, RANSAC affine."""

    query_t: float = Field(description="Time in the suspect clip (s).")
    ref_t: float = Field(description="Time in the reference (s).")
    variant: str = Field(description="How the query frame was turned before matching.")
    keypoints: tuple[int, int] = Field(description="SIFT keypoints found in the query and reference frames.")
    matches: int = Field(description="Matches passing the ratio test.")
    inliers: int = Field(description="Matches the fitted transform explains.")
    inlier_ratio: float = Field(description="inliers / matches.")
    transform: list[list[float]] | None = Field(description="The affine transform (2x3), query pixels to reference pixels.")
    scales: tuple[float, float] | None = Field(None, description="The transform's two scales, larger first.")
    points: list[list[float]] = Field(description="Inlier coordinates [qx, qy, rx, ry] in the sampled frames' pixels.")
    frame_sizes: list[list[int]] = Field(description="[[query w, h], [reference w, h]] of the sampled frames.")
    verified: bool | None = Field(None, description="Whether this pair passed the pair rule (see parameters.verify).")
    ref_box: tuple[float, float, float, float] | None = Field(
        None, description="For a still: the region of it (shares of its width and height) the reference frame shows.")
    region: tuple[float, float, float, float] | None = Field(
        None, description="For a still: where the suspect frame lands on it through the fitted transform, as a box "
                          "[x0, y0, x1, y1] in shares of the still's width and height.")


class Verification(Record):
    """Geometric verification of a segment's strongest frame pairs."""

    status: VerificationStatus = Field(description="verified, not verified, or unavailable (with the reason).")
    reason: str | None = Field(None, description="Why verification was unavailable.")
    method: str | None = Field(None, description="The method in words.")
    pairs_checked: int = Field(0, description="Frame pairs checked.")
    pairs_verified: int = Field(0, description="Frame pairs that passed the pair rule.")
    rule: str | None = Field(None, description="The pair rule in English (reports render it from parameters.verify).")
    median_inliers: float | None = Field(None, description="Median inliers over the pairs checked.")
    pairs: tuple[PairCheck, ...] = Field((), description="Every pair checked.")


class ImageFile(Record):
    """A frame picture saved beside the evidence."""

    file: str = Field(description="Path relative to the evidence file's folder.")
    sha256: str = Field(description="SHA-256 of the file.")
    width: int = Field(description="Width of the frame in pixels.")
    height: int = Field(description="Height of the frame in pixels.")


class Exhibit(Record):
    """A suspect frame and its reference frame, as the report shows them side by side."""

    query_t: float = Field(description="Time in the suspect clip (s).")
    ref_t: float = Field(description="Time in the reference (s).")
    verification_pair: int | None = Field(None, description="Index into the segment's verification pairs, if checked.")
    query_image: ImageFile = Field(description="The suspect frame.")
    ref_image: ImageFile | None = Field(None, description="The reference frame (none when it could not be decoded).")
    ref_unavailable: str | None = Field(None, description="Why the reference frame is not shown.")
    ref_box: tuple[float, float, float, float] | None = Field(
        None, description="For a still: the region of it the reference picture shows.")
    region: tuple[float, float, float, float] | None = Field(
        None, description="For a still: where the suspect frame lands on it (from verification), when known.")


class SegmentSummary(Record):
    """A run of suspect-clip time that matches one reference at a steady time offset."""

    ref_id: str = Field(description="The reference video or still.")
    work: str = Field(description="The work the reference belongs to.")
    kind: Literal["video", "still"] = Field(description="Whether the reference is a video or a still.")
    query_start: float = Field(description="Start in the suspect clip (s).")
    query_end: float = Field(description="End in the suspect clip (s).")
    ref_start: float = Field(description="Start in the reference (s; 0 for a still).")
    ref_end: float = Field(description="End in the reference (s; 0 for a still).")
    score: float = Field(description="The span's evidence, in [0, 1); higher = stronger: the sum of the similarities of "
                                     "its supported frames (paired by retrieval or by guided comparison) over their "
                                     "number plus segments.score_prior_frames, so a whole copy ranks above a fragment.")
    level: Level = Field(description="The level its rules give it.")
    rule: str = Field(description="The decisive rules in English (reports render them from `rules`).")
    rules: tuple[RuleOutcome, ...] = Field((), description="Every rule applied to the segment, with its outcome.")
    channels: tuple[str, ...] = Field(description="Channels that agree on the segment ('local' when verification did).")
    channel_stats: dict[str, ChannelStat] = Field(description="Per channel: its summary statistic over the segment.")
    speed: float | None = Field(None, description="Reference seconds per suspect second (videos only); negative: the "
                                                  "reference played backwards, from ref_end down to ref_start.")
    p_value: float | None = Field(None, description="Probability that unrelated footage matches this well (calibrated indexes).")
    p_value_at_floor: bool | None = Field(None, description="True: the p-value is below the stated floor, not equal to it.")
    log10_p_value: float | None = Field(None, description="log10 of the p-value.")
    expected_false_matches: float | None = Field(None, description="p-value x the (frame, reference) trials of the scan.")
    chance: Chance | None = Field(None, description="The count behind the p-value (calibrated indexes).")
    verification: Verification | None = Field(None, description="Geometric verification, when it ran.")
    ref_region: tuple[float, float, float, float] | None = Field(
        None, description="For a still: the region of it the segment shows, [x0, y0, x1, y1] in shares of its width "
                          "and height (where verified frames land on it, else the tiles that matched).")
    still_image: ImageFile | None = Field(None, description="For a still: the whole still, to draw the region on.")
    exhibits: tuple[Exhibit, ...] = Field((), description="Frame pictures kept for the report.")
    frames: int = Field(0, description="Query frames retrieval paired in the segment.")
    guided_frames: int = Field(0, description="Further query frames a direct comparison along the timeline supports.")
    parts: tuple[SpanPart, ...] = Field((), description="The span's stretches, in time order, and what each rests on "
                                                        "(videos; none for a still).")

    @model_validator(mode="before")
    @classmethod
    def _speed_from_first_files(cls, data):
        # files written before 2026-11-25 keep the speed among the channel statistics
        if isinstance(data, dict) and isinstance(data.get("channel_stats"), dict) and "speed" in data["channel_stats"]:
            stats = dict(data["channel_stats"])
            data = {**data, "channel_stats": stats, "speed": data.get("speed", stats.pop("speed"))}
        return data


class Segment(SegmentSummary):
    """A segment with its frame pairs."""

    pairs: tuple[Pair, ...] = Field((), description="Each query frame's best pair, in time order.")
    guided_pairs: tuple[GuidedPair, ...] = Field((), description="The frames guided comparison supports, in time order.")


class GalleryItem(Record):
    """One of the clip's closest moments to a work, beside the work's nearest frame."""

    query_t: float = Field(description="Time in the suspect clip (s).")
    crop: tuple[float, float, float, float] | None = Field(
        None, description="The crop of the suspect frame compared, [x0, y0, x1, y1] in shares of it; none for the whole frame.")
    similarity: float = Field(description="Their similarity (the channel's raw score, cosine for CLIP).")
    ref_id: str = Field(description="The work's reference video or still.")
    ref_t: float = Field(description="Time in the reference (s; 0 for a still).")
    ref_box: tuple[float, float, float, float] | None = Field(None, description="For a still's tile: the region it shows.")
    query_image: ImageFile | None = Field(None, description="The suspect picture compared (the crop, when one).")
    ref_image: ImageFile | None = Field(None, description="The reference frame.")
    ref_unavailable: str | None = Field(None, description="Why the reference frame is not shown.")


class Resemblance(Record):
    """How close the clip's frames come to one work's frames, with no shared timeline."""

    channel: str = Field(description="The channel compared (one whose similarities say how alike two pictures look).")
    statistic: str = Field("mean of the top share of per-moment best similarities",
                           description="What `value` is (see parameters.resemblance).")
    value: float = Field(description="The statistic: the mean similarity of the clip's closest moments to the work.")
    frames: int = Field(description="Moments of the clip compared (one per calibration.decorrelation_s seconds).")
    top_frames: int = Field(description="How many of the closest moments the statistic averages.")
    p_value: float | None = Field(None, description="Probability that unrelated footage comes this close (calibrated indexes).")
    p_value_at_floor: bool | None = Field(None, description="True: below the stated floor.")
    log10_p_value: float | None = Field(None, description="log10 of the p-value.")
    expected_false_matches: float | None = Field(None, description="p-value x the works the clip was compared with.")
    level: Level = Field(description="'resemblance without a shared timeline', or 'no match' when its rule fails or no "
                                     "calibration exists.")
    rules: tuple[RuleOutcome, ...] = Field((), description="Its rule and outcome (none without a calibration).")
    gallery: tuple[GalleryItem, ...] = Field((), description="The clip's closest moments beside the work's nearest frames.")


class ClosestWork(Record):
    """One of the works the clip came closest to, resembling it or not."""

    work: str = Field(description="The work.")
    owner: str = Field(description="Its rights holder.")
    channel: str = Field(description="The channel compared.")
    value: float = Field(description="The resemblance statistic.")
    p_value: float | None = Field(None, description="Its p-value (calibrated indexes).")
    expected_false_matches: float | None = Field(None, description="Its expected false matches.")
    level: Level = Field(description="The level its rule gave it.")


class ResemblanceCheck(Record):
    """What the search for resemblance without a shared timeline compared, and what came closest."""

    channels: tuple[str, ...] = Field(description="Channels compared.")
    works_compared: int = Field(description="Works in the index (the Bonferroni factor of expected false matches).")
    calibrated: bool = Field(description="Whether p-values could be computed (no calibration: the level is never granted).")
    closest: tuple[ClosestWork, ...] = Field((), description="The works the clip came closest to, closest first.")


class Work(Record):
    """Totals for one work the clip matches."""

    work: str = Field(description="The work's title as catalogued.")
    owner: str = Field(description="Its rights holder.")
    metadata: dict[str, Any] = Field(default_factory=dict, description=(
        "The catalogue's metadata of the work; from the scanner: 'first_published' (the earliest its cited "
        "references state) and 'references' (per cited ref_id: episode, title, first_published, notes)."))
    level: Level = Field(description="The level of its strongest segment.")
    best_score: float = Field(description="Score of its strongest segment.")
    matched_seconds: float = Field(description="Seconds of the clip its segments cover (overlaps counted once).")
    share_of_clip: float | None = Field(description="matched_seconds / clip duration.")
    channels: tuple[str, ...] = Field(description="Channels that agree on any of its segments.")
    p_value: float | None = Field(None, description="p-value of its strongest segment.")
    expected_false_matches: float | None = Field(None, description="Expected false matches of its strongest segment.")
    best_segment: SegmentSummary | None = Field(None, description="Its strongest segment, without pairs (none without segments).")
    segments: tuple[Segment, ...] = Field((), description="Its segments, strongest first.")
    resemblance: Resemblance | None = Field(None, description="Its resemblance without a shared timeline, when measured.")


class Verdict(Record):
    """The clip's verdict: the strongest level of its segments and works' resemblances, and
    whether that flags the clip."""

    flagged: bool = Field(description="Whether the level is one of parameters.verdict.flag_levels.")
    level: Level = Field(description="Level of the strongest segment or resemblance ('no match' without one).")
    score: float = Field(description="Score of the strongest segment, or the resemblance statistic (0 without either).")
    p_value: float | None = Field(None, description="p-value of the strongest segment.")
    p_value_at_floor: bool | None = Field(None, description="True: below the stated floor.")
    log10_p_value: float | None = Field(None, description="log10 of the p-value.")
    expected_false_matches: float | None = Field(None, description="Expected false matches of the strongest segment.")
    chance: Chance | None = Field(None, description="The count behind the strongest segment's p-value.")
    rule: str = Field(description="The decisive rules in English.")
    rules: tuple[RuleOutcome, ...] = Field((), description="The strongest segment's decisive outcomes and the flag rule.")
    summary: str = Field(description="The verdict in one English sentence (reports render their own language).")


class Calibration(Record):
    """Whether p-values were computed, how, and over how many trials."""

    calibrated: bool = Field(description="Whether the index had null distributions for every channel scanned.")
    method: str = Field(description="How the null distributions were made and p-values computed.")
    trials: int = Field(description="(query frame, reference video) trials of the scan: expected false matches = p x trials.")
    null: NullBasis | None = Field(None, description="What the null distributions rest on (calibrated indexes).")


class Reference(Record):
    """A reference file a segment cites."""

    work: str | None = Field(None, description="Its work.")
    kind: str | None = Field(None, description="video or still.")
    path: str | None = Field(None, description="Where the catalogue says it is.")
    sha256: str | None = Field(None, description="SHA-256 of the file when it was indexed.")
    duration_s: float | None = Field(None, description="Its duration (s).")
    owner: str | None = Field(None, description="Its work's rights holder, as catalogued.")
    episode: str | None = Field(None, description="The catalogue's episode (number or name), if any.")
    title: str | None = Field(None, description="The catalogue's title of this file (e.g. the episode's title), if any.")
    first_published: str | None = Field(None, description="When the catalogue says it was first published, if stated.")
    notes: str | None = Field(None, description="The catalogue's notes on it, if any.")


class FrameMatch(Record):
    """One of a query frame's top matches in one channel."""

    ref_id: str = Field(description="The reference.")
    ref_t: float = Field(description="Time in the reference (s).")
    raw: float = Field(description="The channel's raw score.")
    similarity: float = Field(description="The score mapped to [0, 1].")
    variant: str = Field("original", description="Which variant of the query frame matched.")
    hit: bool = Field(description="Whether it passes the channel's hit threshold.")
    ref_box: tuple[float, float, float, float] | None = Field(None, description="For a still's tile: the region it shows.")


class Frame(Record):
    """One sampled frame of the clip and its top matches per channel."""

    index: int = Field(description="Position among the sampled frames.")
    t: float = Field(description="Time in the clip (s).")
    quality: dict[str, float] = Field(default_factory=dict, description="Per channel that scores it: the frame's quality.")
    used: dict[str, bool] = Field(default_factory=dict, description="Per channel: whether the frame was searched.")
    top: dict[str, tuple[FrameMatch, ...]] = Field(default_factory=dict, description="Per channel: its top matches.")


# -- the evidence ----------------------------------------------------------------------------------
class Evidence(Record):
    """Evidence for one suspect clip (schema auditor.evidence/1)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, title="auditor.evidence/1",
                              json_schema_extra={"additionalProperties": False})

    schema_: Literal["auditor.evidence/1"] = Field(SCHEMA, alias="schema", description="Always 'auditor.evidence/1'.")
    query_id: str = Field(description="The clip's id in matches.csv: its file stem (made unique within a batch).")
    created_utc: str = Field(description="When the scan finished (UTC, ISO 8601).")
    clip: Clip = Field(description="The suspect clip.")
    index: IndexRef = Field(description="The reference index.")
    tool: Tool = Field(description="The tool, channels and every parameter.")
    runtime: Runtime | None = Field(None, description="How the scan ran (threads, devices, time).")
    verdict: Verdict = Field(description="The verdict.")
    calibration: Calibration | None = Field(None, description="Calibration of p-values.")
    works: tuple[Work, ...] = Field(description="Works the clip matches, strongest first.")
    references: dict[str, Reference] = Field(default_factory=dict, description="Reference files the segments cite.")
    rejected_segments: tuple[SegmentSummary, ...] = Field(
        (), description="Segments only channels that need geometric verification supported, and that it refuted.")
    frames: tuple[Frame, ...] = Field(description="Every sampled frame with its top matches.")
    provenance: Provenance | None = Field(None, description="Where the clip says it came from.")
    resemblance: ResemblanceCheck | None = Field(None, description="The search for resemblance without a shared timeline.")

    def segments(self) -> list[Segment]:
        """Every kept segment, work by work."""
        return [s for w in self.works for s in w.segments]

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)


def json_schema() -> dict:
    """The JSON Schema of auditor.evidence/1 (draft 2020-12)."""
    schema = Evidence.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
