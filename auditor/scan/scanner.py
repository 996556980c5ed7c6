"""Scanning one suspect clip against a reference index: the path from a file to its evidence.

    sample and embed (pipeline) -> search each channel's index -> hits -> segments (alignment)
    -> geometric verification of the strongest -> calibration (p-values) -> the one decision
    -> exhibit frames -> the evidence record (assemble)

A `Scanner` opens the index (holding the generation it opened until it is closed) and the
channels it holds (models loaded once), then scans clips one by one.
"""

from __future__ import annotations

import platform
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from reference_index.search import gpu_count
from reference_index.store import VIDEO_FIELDS as CATALOGUE_WORDS
from reference_index.store import atomic_write_bytes, open_reader

from .. import __version__
from ..channels import open_for_index
from ..errors import InputError
from ..evidence import records as ev
from ..evidence.rules import Level
from ..match import moments
from ..match.calibration import NullModel, matches_fingerprints
from ..match.decision import Decision, Policy, decide
from ..match.geometry import verification_pairs, verify_segment
from ..match.guided import Guide, extend
from ..match.segments import Hit, Segment, build_segments, for_short_clip
from ..media.frames import FrameSource
from ..media.provenance import provenance, sidecar_context
from ..names import printable, text_named
from ..settings import Configuration
from . import exhibits, resemble
from .ahead import SearchAhead
from .assemble import null_basis, resemblance_check, segment_record, verdict_record, work_records
from .pipeline import EmbeddedMedia, embed_file


class Scanner:
    """Holds an open index and its channels (model loaded once) and scans clips one by one."""

    def __init__(self, index_path: str | Path, config: Configuration, context_file: str | Path | None = None,
                 shard_fanout=None):
        """`context_file`: the user's generation context for every clip scanned (see
        media.provenance); without it, each clip's sidecar `CLIP.context.toml` if present.
        A sharded index is searched shard by shard in this process, or through `shard_fanout`
        (reference_index.store.sharded.Fanout: Ray actors, one a shard)."""
        self.config = config
        self.context_file = context_file
        self.index = open_reader(index_path, shard_fanout)
        try:
            self.channels = open_for_index(self.index, config)
            self.meanings = {name: ch.meaning(config) for name, ch in self.channels.items()}
            self.policy = Policy.from_config(config, self.meanings)
            self.fingerprints = {name: ch.fingerprint() for name, ch in self.channels.items()}
            self.frame_source = FrameSource(config)
            self.faiss_gpu = self._faiss_on_gpu()
            cal = self.index.calibration()
            self.null = None
            if matches_fingerprints(cal, {n: fp["id"] for n, fp in self.fingerprints.items()}):
                self.null = NullModel(cal, self.meanings, config)
            self.search_settings = {name: ev.IndexChannel(**s) for name, s in self.index.search_settings().items()}
        except BaseException:
            self.index.close()
            raise

    def _faiss_on_gpu(self) -> list[str]:
        """When a channel runs on a CUDA device and faiss-gpu sees one, float channels search there."""
        devices = sorted({ch.device for ch in self.channels.values() if ch.device.startswith("cuda")})
        if not devices or gpu_count() == 0:
            return []
        n = int(devices[0].split(":", 1)[1]) if ":" in devices[0] else 0
        return [name for name in self.channels if self.index.to_gpu(name, n)]

    def close(self) -> None:
        self.index.close()

    # -- one clip ----------------------------------------------------------------------------
    def scan(self, path: str | Path, query_id: str | None = None, out_dir: str | Path | None = None) -> ev.Evidence:
        """Evidence for one clip. Raises InputError for a clip that cannot be used.

        With `out_dir`, the exhibit frames the evidence names are written there (the evidence
        itself is the caller's to write, after them)."""
        started = time.monotonic()
        query_id = query_id or printable(Path(path).stem)
        # a name that is not UTF-8 is read through a link with a safe name and written escaped
        with text_named(path) as readable:
            return self._scan(readable, printable(path), path, query_id, out_dir, started)

    def _scan(self, path: Path, shown: str, given, query_id: str, out_dir, started: float) -> ev.Evidence:
        fps = float(self.config.sampling.query.fps)
        context = self.context_file or sidecar_context(given)
        origin = provenance(path, context)  # a malformed sidecar fails this clip, first
        budget = int(float(self.config.verify.keep_query_frames_mb) * 2**20)
        ahead = SearchAhead(self.channels, self.index, int(self.config.search.top_k))
        try:  # each chunk is searched while the next is decoded and described
            embedded = embed_file(path, fps, self.channels, self.config, query=True, keep_frames_bytes=budget,
                                  on_chunk=ahead.submit)
            searched_ahead = {name: ahead.gather(name) for name in self.channels}
        finally:
            ahead.close()
        if embedded.n_frames == 0:
            raise InputError(path, "no frames could be sampled")
        self.frame_source.remember_query(embedded.info.path, embedded.frames)
        # a still or a clip of a frame or two is held to its own length (segments.for_short_clip)
        config, note = for_short_clip(self.config, embedded.n_frames, embedded.info.duration_s)
        policy = self.policy
        if note:
            embedded.info.warnings.append(note)
            policy = Policy.from_config(config, {name: ch.meaning(config) for name, ch in self.channels.items()})
        hits, frames, searched = self._search(embedded, searched_ahead)
        segments = self._segments(hits, embedded, config, policy)
        trials = embedded.n_frames * max(1, int(self.index.counts().get("videos", 1)))
        verification = self._verify(embedded.info.path, [d.segment for d in decide(segments, {}, {}, policy).segments])
        calibration = {s.key: self.null.segment(s.pairs, trials) for s in segments} if self.null else {}
        found = self._moments(hits, segments, decide(segments, verification, calibration, policy), embedded, config)
        verification.update(self._verify(embedded.info.path, found, limit=len(found)))
        calibration.update({s.key: self.null.moment(s.hits, trials) for s in found} if self.null else {})
        segments = segments + found
        runtime = {"searched": searched, "pairs_verified": sum(v.pairs_checked for v in verification.values()),
                   "shards_served_by": self.index.served_by}
        resemblances = resemble.measure(self, embedded, embedded.info.path)
        decision = decide(segments, verification, calibration, policy, resemblances)
        exhibited, files = exhibits.collect(embedded.info.path, query_id, decision, self.index,
                                            self.frame_source, self.config) if out_dir is not None else (exhibits.Shown(), {})
        for name, data in files.items():
            atomic_write_bytes(Path(out_dir) / name, data)
        return self._evidence(embedded, query_id, decision, exhibited, frames, trials, origin, time.monotonic() - started,
                              shown, runtime)

    def _search(self, embedded: EmbeddedMedia, ahead: dict) -> tuple[list[Hit], list[ev.Frame], dict[str, ev.Searched]]:
        """Every channel's top-k per frame: the hits (within each channel's threshold), each
        frame's top matches for the evidence, and what each channel searched. `ahead`: each
        channel's candidates per embedded frame, and what it searched (SearchAhead.gather)."""
        keep_top = int(self.config.evidence.top_matches_per_frame)
        times = embedded.times
        found, searched = {}, {}
        for name, emb in embedded.embeddings.items():
            rows, ranked, searched[name] = ahead[name]
            found[name] = held_frames_take_their_sources(rows, ranked, emb.keep, embedded.source)
        refs = self.index.frame_refs({fid for _, ranked in found.values() for cands in ranked for fid, _, _ in cands})
        quality = {n: e.quality for n, e in embedded.embeddings.items() if e.quality is not None}
        top: list[dict[str, tuple[ev.FrameMatch, ...]]] = [{} for _ in times]
        hits: list[Hit] = []
        for name, (rows, ranked) in found.items():
            ch = self.channels[name]
            for q, cands in zip(rows, ranked):
                cands = [c for c in cands if c[0] in refs]
                raws = np.array([c[1] for c in cands], dtype=np.float64)
                sims, is_hit = ch.similarity(raws), ch.is_hit(raws)
                matches: list[ev.FrameMatch] = []
                for (fid, raw, variant), sim, hit in zip(cands, sims, is_hit):
                    ref = refs[fid]
                    if len(matches) < keep_top:
                        matches.append(ev.FrameMatch(ref_id=ref.ref_id, ref_t=round(ref.t, 3), raw=round(float(raw), 6),
                                                     similarity=round(float(sim), 6), variant=variant, hit=bool(hit),
                                                     ref_box=ref.box))
                    if hit:
                        hits.append(Hit(q_index=int(q), q_t=float(times[q]), channel=name, frame_id=fid,
                                        ref_id=ref.ref_id, kind=ref.kind, work=ref.work, owner=ref.owner,
                                        ref_t=float(ref.t), raw=float(raw), sim=float(sim), variant=variant,
                                        ref_box=ref.box))
                top[q][name] = tuple(matches)
        frames = [
            ev.Frame(
                index=i, t=round(float(t), 3),
                quality={n: round(float(qv[i]), 2) for n, qv in quality.items()},
                used={n: bool(e.keep[i]) for n, e in embedded.embeddings.items()},
                top=top[i],
            )
            for i, t in enumerate(times)
        ]
        return hits, frames, searched

    def _segments(self, hits: list[Hit], embedded: EmbeddedMedia, config: Configuration, policy: Policy) -> list[Segment]:
        ref_durations, ref_steps = {}, {}
        for ref_id in {h.ref_id for h in hits}:
            v = self.index.video(ref_id) or {}
            ref_durations[ref_id] = float(v.get("duration_s") or 0.0)
            ref_steps[ref_id] = 1.0 / float(v.get("sampling_fps") or self.config.sampling.reference.fps)
        comparing = {n: ch for n, ch in self.channels.items() if ch.compares_directly}
        guide = Guide(channels=comparing, embeddings={n: embedded.embeddings[n] for n in comparing},
                      times=np.asarray(embedded.times, dtype=np.float64), query_step=1.0 / embedded.sampling_fps,
                      clip_duration=embedded.info.duration_s, ref_durations=ref_durations, ref_steps=ref_steps,
                      frames=self.index.video_frames, vectors=self.index.frame_vectors,
                      higher_is_better={n: self.meanings[n].higher_is_better for n in comparing},
                      thumbs=embedded.thumbs, ref_thumbs=self._reference_thumbnails)
        return build_segments(
            hits, config, 1.0 / embedded.sampling_fps, embedded.info.duration_s, ref_durations, ref_steps,
            statistics_by_channel={n: m.statistic for n, m in self.meanings.items()},
            strength=policy.channel_rank,
            grow=(lambda segs, rebuild, rank: extend(segs, guide, config.segments, rebuild, rank)) if comparing else None,
        )

    def _moments(self, hits: list[Hit], segments: list[Segment], decided: Decision, embedded: EmbeddedMedia,
                 config: Configuration) -> list[Segment]:
        """Candidate moments (match/moments.py), on a calibrated index only: hits no segment on
        their reference covers at a level above a moment's."""
        if self.null is None:
            return []
        above = [d.segment for d in decided.segments if d.level.rank < Level.MOMENT.rank]
        return moments.candidates(hits, above, self.meanings, config, 1.0 / embedded.sampling_fps, embedded.info.duration_s,
                                  1 + max((s.key for s in segments), default=-1))

    def _reference_thumbnails(self, ref_id: str, times) -> dict:
        video = self.index.video(ref_id)
        return self.frame_source.reference_thumbnails(video, times) if video else {}

    def _verify(self, clip_path: str, ranked: list[Segment], limit: int | None = None) -> dict[int, ev.Verification]:
        """Geometric verification of the first `limit` (`verify.max_segments`) of these segments,
        strongest first (as the channels rank them)."""
        cfg = self.config.verify
        if not cfg.enabled:
            return {}
        todo = ranked[: int(cfg.max_segments) if limit is None else limit]
        if not todo:
            return {}
        frames = self.frame_source.query_frames(clip_path, [h.q_t for s in todo for h in verification_pairs(s.pairs, cfg)])
        videos = {s.ref_id: self.index.video(s.ref_id) for s in todo}
        cache: dict = {}  # one clip's frame features, shared by its segments
        return {s.key: verify_segment(s, frames, self.frame_source, videos[s.ref_id], cfg, cache) for s in todo}

    def _evidence(self, embedded: EmbeddedMedia, query_id: str, decision: Decision, shown: exhibits.Shown, frames: list,
                  trials: int, origin: dict, elapsed: float, clip_path: str, runtime: dict) -> ev.Evidence:
        """`runtime`: what the search covered ("searched") and the pairs verification checked."""
        info = embedded.info
        named = {d.segment.work for d in decision.segments} | {r.resemblance.work for r in decision.resemblances}
        cited = sorted({d.segment.ref_id for d in decision.segments})
        videos = {ref_id: v for ref_id in cited if (v := self.index.video(ref_id))}
        works = work_records(decision, shown, info.duration_s,
                             {w: catalogue_words(self.index.work_metadata(w), w, videos) for w in named})
        clip = ev.Clip(
            **(info.to_dict() | {"path": clip_path}),
            frames_used={n: int(e.keep.sum()) for n, e in embedded.embeddings.items()},
            frames_dropped_low_quality={n: int((~e.keep).sum()) for n, e in embedded.embeddings.items()
                                        if e.quality is not None},
            sampling_fps=embedded.sampling_fps,
            frames_embedded=embedded.embedded_frames,  # the others reused a held frame's vectors
        )
        return ev.Evidence(
            query_id=query_id,
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            clip=clip,
            index=ev.IndexRef(id=self.index.index_id, path=str(self.index.path), manifest_sha256=self.index.manifest_sha256,
                              generation=self.index.generation, counts=self.index.counts(), channels=self.search_settings,
                              shards=self.index.sharding),
            tool=ev.Tool(version=__version__, channels=self.fingerprints, parameters=self.config.model_dump(),
                         libraries=library_versions()),
            runtime=ev.Runtime(devices={n: ch.device for n, ch in self.channels.items()}, threads=_threads(),
                               elapsed_s=round(elapsed, 3), **runtime),
            verdict=verdict_record(decision, works, clip_path),
            calibration=ev.Calibration(
                calibrated=self.null is not None,
                method=self.null.describe() if self.null else "index not calibrated: no p-values (run auditor index calibrate)",
                trials=trials, null=null_basis(self.null, self.config),
            ),
            works=works,
            references={ref_id: ev.Reference(**{k: v.get(k) for k in REFERENCE_FIELDS}) for ref_id, v in videos.items()},
            rejected_segments=tuple(segment_record(d, with_pairs=False) for d in decision.rejected),
            frames=tuple(frames),
            provenance=ev.Provenance.model_validate(origin),
            resemblance=resemblance_check(decision, self.meanings, self.null is not None, self.index.counts()),
        )


def held_frames_take_their_sources(rows: np.ndarray, ranked: list, keep: np.ndarray,
                                   source: np.ndarray | None) -> tuple[np.ndarray, list]:
    """Candidates per embedded frame -> per sampled frame. A held frame (its vectors reused from
    an earlier frame, `source`) was not searched again: it takes its source frame's candidates."""
    if source is None:  # every sampled frame was embedded
        return rows, ranked
    distinct = np.unique(source)  # the sampled frame each embedded frame is, in embedding order
    by_frame = dict(zip(distinct[rows].tolist(), ranked))
    everyone = np.array([i for i in range(len(source)) if int(source[i]) in by_frame and keep[i]], np.int64)
    return everyone, [by_frame[int(source[i])] for i in everyone]


REFERENCE_FIELDS = ("work", "kind", "path", "sha256", "duration_s", "owner") + CATALOGUE_WORDS


def catalogue_words(stored: dict, work: str, videos: dict[str, dict]) -> dict:
    """A work's metadata in the evidence: what the catalogue stores for it, the catalogue's words
    for each of its references the clip cites, and the earliest first publication they state."""
    refs = {rid: {k: v[k] for k in CATALOGUE_WORDS if v.get(k)} for rid, v in sorted(videos.items()) if v.get("work") == work}
    out = dict(stored)
    if any(refs.values()):
        out["references"] = {rid: words for rid, words in refs.items() if words}
    dates = sorted(w["first_published"] for w in refs.values() if w.get("first_published"))
    if dates and "first_published" not in out:
        out["first_published"] = dates[0]
    return out


def library_versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("numpy", "opencv-python-headless", "faiss-cpu", "pdqhash", "open_clip_torch", "torch",
                "reportlab", "matplotlib", "pyHanko", "pydantic"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _threads() -> dict[str, int | None]:
    """Threads the libraries that share the cores use now."""
    import cv2

    from reference_index.search import faiss

    torch = sys.modules.get("torch")
    return {"faiss": int(faiss.omp_get_max_threads()), "opencv": int(cv2.getNumThreads()),
            "torch": int(torch.get_num_threads()) if torch is not None else None}
