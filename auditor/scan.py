"""Scanning suspect clips against a reference index and turning the hits into evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from reference_index import ReferenceIndex
from reference_index.files import atomic_write_bytes

from . import exhibits
from .channels import Channel
from .errors import InputError
from .evidence import SCHEMA, tool_block
from .ingest import open_channels
from .pipeline import EmbeddedMedia, embed_file
from .provenance import provenance
from .calibrate import NullModel
from .scoring import Hit, apply_calibration, apply_verification, build_segments, level_rank, per_work, verdict
from .verify import FrameSource, verification_pairs, verify_segment

TOP_PER_FRAME = 3  # matches per frame and channel kept in the evidence


class Scanner:
    """Holds an open index and its channels (model loaded once) and scans clips one by one."""

    def __init__(self, index_path: str | Path, config: dict, context_file: str | Path | None = None):
        """`context_file`: the user's generation context for every clip scanned (see
        auditor.provenance); without it, each clip's sidecar `CLIP.context.toml` if present."""
        self.config = config
        self.context_file = context_file
        self.index = ReferenceIndex.open(index_path)
        self.channels: dict[str, Channel] = open_channels(list(self.index.channels), config)
        self.frame_source = FrameSource(config)
        self.fingerprints = {}
        for name, ch in self.channels.items():
            fp = ch.fingerprint()
            self.index.check_fingerprint(name, fp)
            self.fingerprints[name] = fp
        self.faiss_gpu = self._faiss_on_gpu(config)
        cal = self.index.calibration()
        self.null = None
        if cal and all(
            cal["channels"].get(n, {}).get("fingerprint_id") == fp["id"] for n, fp in self.fingerprints.items()
        ):
            self.null = NullModel(cal, self.channels, config)

    def _faiss_on_gpu(self, config: dict) -> list[str]:
        """With --device cuda[:N] and faiss-gpu installed, float channels search on that GPU."""
        from reference_index.vectors import gpu_count

        device = str(config["channels"].get("clip", {}).get("device", "cpu")).lower()
        if not device.startswith("cuda") or gpu_count() == 0:
            return []
        n = int(device.split(":", 1)[1]) if ":" in device else 0
        return [name for name in self.channels if self.index.vectors(name).to_gpu(n)]

    def close(self) -> None:
        self.index.close()

    def scan(self, path: str | Path, query_id: str | None = None, out_dir: str | Path | None = None) -> dict:
        """Evidence for one clip (a dict of schema auditor.evidence/1). Raises InputError.

        With `out_dir`, the exhibit frames the evidence names are written there (the evidence
        itself is the caller's to write, after them)."""
        fps = float(self.config["sampling"]["query"]["fps"])
        origin = provenance(path, self.context_file)  # a malformed sidecar fails this clip, first
        budget = int(float(self.config["verify"].get("keep_query_frames_mb", 0)) * 2**20)
        embedded = embed_file(path, fps, self.channels, self.config, query=True, keep_frames_bytes=budget)
        if embedded.n_frames == 0:
            raise InputError(path, "no frames could be sampled")
        self.frame_source.remember_query(embedded.info.path, embedded.frames)
        embedded.frames = None
        evidence = self._evidence(embedded, query_id or Path(path).stem, out_dir)
        evidence["provenance"] = origin
        return evidence

    def _search(self, embedded: EmbeddedMedia):
        k = int(self.config["search"]["top_k"])
        found = {}
        ids_seen: set[int] = set()
        for name, emb in embedded.embeddings.items():
            rows, ranked = self.channels[name].candidates(emb, lambda v, kk, n=name: self.index.search(n, v, kk), k)
            found[name] = (rows, ranked)
            ids_seen.update(fid for cands in ranked for fid, _, _ in cands)
        return found, self.index.frame_refs(ids_seen)

    def _verify(self, clip_path: str, segments: list) -> tuple[list, list]:
        """Geometric verification of the strongest segments; returns (kept, rejected)."""
        cfg = self.config["verify"]
        if not cfg["enabled"] or not segments:
            return segments, []
        todo = segments[: int(cfg["max_segments"])]
        times = [h.q_t for s in todo for h in verification_pairs(s.pairs, cfg)]
        frames = self.frame_source.query_frames(clip_path, times)
        kept, rejected = [], []
        videos = {s.ref_id: self.index.video(s.ref_id) for s in todo}
        checked = {id(s) for s in todo}
        for s in segments:
            if id(s) in checked and not apply_verification(s, verify_segment(s, frames, self.frame_source, videos[s.ref_id], cfg), self.config):
                rejected.append(s)
            else:
                kept.append(s)
        kept.sort(key=lambda s: (level_rank(s.level), -s.score, s.query_start))
        return kept, rejected

    def _evidence(self, embedded: EmbeddedMedia, query_id: str, out_dir: str | Path | None = None) -> dict:
        info = embedded.info
        times = embedded.times
        found, refs = self._search(embedded)
        frames = [{"index": i, "t": round(float(t), 3), "quality": {}, "used": {}, "top": {}} for i, t in enumerate(times)]
        hits: list[Hit] = []
        for name, (rows, ranked) in found.items():
            ch = self.channels[name]
            emb = embedded.embeddings[name]
            for i in range(len(times)):
                frames[i]["used"][name] = bool(emb.keep[i])
                if emb.quality is not None:
                    frames[i]["quality"][name] = round(float(emb.quality[i]), 2)
            for q, cands in zip(rows, ranked):
                cands = [c for c in cands if c[0] in refs]
                raws = np.array([c[1] for c in cands], dtype=np.float64)
                sims = ch.similarity(raws)
                is_hit = ch.is_hit(raws)
                top = []
                for (fid, raw, variant), sim, hit in zip(cands, sims, is_hit):
                    ref = refs[fid]
                    if len(top) < TOP_PER_FRAME:
                        top.append(
                            {
                                "ref_id": ref.ref_id,
                                "ref_t": round(ref.t, 3),
                                "raw": round(float(raw), 6),
                                "similarity": round(float(sim), 6),
                                "variant": variant,
                                "hit": bool(hit),
                            }
                        )
                    if hit:
                        hits.append(
                            Hit(
                                q_index=int(q),
                                q_t=float(times[q]),
                                channel=name,
                                frame_id=fid,
                                ref_id=ref.ref_id,
                                kind=ref.kind,
                                work=ref.work,
                                owner=ref.owner,
                                ref_t=float(ref.t),
                                raw=float(raw),
                                sim=float(sim),
                                variant=variant,
                            )
                        )
                frames[q]["top"][name] = top
        ref_durations, ref_steps = {}, {}
        for ref_id in {h.ref_id for h in hits}:
            v = self.index.video(ref_id) or {}
            ref_durations[ref_id] = float(v.get("duration_s") or 0.0)
            fps = v.get("sampling_fps") or self.config["sampling"]["reference"]["fps"]
            ref_steps[ref_id] = 1.0 / float(fps)
        duration = info.duration_s
        step = 1.0 / embedded.sampling_fps
        segments = build_segments(hits, self.config, step, duration, ref_durations, ref_steps)
        segments, rejected = self._verify(info.path, segments)
        trials = len(times) * max(1, int(self.index.manifest["catalogue"].get("counts", {}).get("videos", 1)))
        if self.null is not None:
            for s in segments:
                apply_calibration(s, self.null.segment(s.pairs, trials), self.config)
            segments.sort(key=lambda s: (level_rank(s.level), -s.score, s.query_start))
        if out_dir is not None:
            files = exhibits.collect(info.path, query_id, segments, self.index, self.frame_source, self.config)
            for name, data in files.items():
                atomic_write_bytes(Path(out_dir) / name, data)
        work_names = {s.work for s in segments}
        works = per_work(segments, duration, {w: self.index.work_metadata(w) for w in work_names})
        clip = info.to_dict()
        clip["frames_used"] = {n: int(e.keep.sum()) for n, e in embedded.embeddings.items()}
        clip["frames_dropped_low_quality"] = {
            n: int((~e.keep).sum()) for n, e in embedded.embeddings.items() if e.quality is not None
        }
        clip["sampling_fps"] = embedded.sampling_fps
        clip["frames_embedded"] = embedded.embedded_frames  # the others reused a held frame's vectors
        return {
            "schema": SCHEMA,
            "query_id": query_id,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "clip": clip,
            "index": {
                "id": self.index.index_id,
                "path": str(self.index.path),
                "manifest_sha256": self.index.manifest_sha256,
                "generation": self.index.manifest["generation"],
                "counts": self.index.manifest["catalogue"].get("counts", {}),
            },
            "tool": tool_block(self.fingerprints, self.config),
            "verdict": verdict(segments, self.config, Path(info.path).name),
            "calibration": {
                "calibrated": self.null is not None,
                "method": self.null.describe() if self.null else "index not calibrated: no p-values (run auditor index calibrate)",
                "trials": trials,
            },
            "works": works,
            "references": {
                ref_id: {k: v.get(k) for k in ("work", "kind", "path", "sha256", "duration_s")}
                for ref_id in sorted({s.ref_id for s in segments})
                if (v := self.index.video(ref_id))
            },
            "rejected_segments": [{k: v for k, v in s.to_dict().items() if k != "pairs"} for s in rejected],
            "frames": frames,
        }


@dataclass
class ClipOutcome:
    path: str
    query_id: str
    status: str  # "ok", "skipped" (evidence of an earlier run, same clip, index and parameters) or "error"
    evidence_path: str | None = None
    verdict: dict | None = None
    top_work: str | None = None
    segments: int = 0
    error: str | None = None
    report_path: str | None = None
    frames: int = 0  # frames sampled (0 for skipped and failed clips)

    def summary_row(self) -> dict:
        v = self.verdict or {}
        return {
            "query_id": self.query_id,
            "path": self.path,
            "status": self.status,
            "flagged": "" if not v else str(bool(v.get("flagged"))).lower(),
            "level": v.get("level", ""),
            "score": "" if not v else f"{float(v.get('score', 0.0)):.6f}",
            "top_work": self.top_work or "",
            "segments": self.segments if v else "",
            "evidence": self.evidence_path or "",
            "error": self.error or "",
            "report": self.report_path or "",
        }


@dataclass
class ScanReport:
    out_dir: str
    outcomes: list[ClipOutcome] = field(default_factory=list)
    matches_csv: str = ""
    summary_csv: str = ""

    @property
    def failed(self) -> list[ClipOutcome]:
        return [o for o in self.outcomes if o.status == "error"]


def query_ids(paths: list[Path]) -> list[str]:
    """File stems, made unique where two inputs share a stem (the clip's position is appended)."""
    stems = [p.stem for p in paths]
    seen: dict[str, int] = {}
    out = []
    for stem in stems:
        if stems.count(stem) > 1:
            seen[stem] = seen.get(stem, 0) + 1
            out.append(f"{stem}-{seen[stem]}")
        else:
            out.append(stem)
    return out


def scan_paths(*args, **kwargs) -> ScanReport:
    """Scan every clip; a bad clip costs that clip alone (see `auditor.batch.run_batch`)."""
    from .batch import run_batch

    return run_batch(*args, **kwargs)
