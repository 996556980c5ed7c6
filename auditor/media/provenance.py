"""Provenance of a suspect clip: C2PA Content Credentials, container metadata, generation context.

- Content Credentials are read and validated with the Content Authenticity Initiative's own
  library (c2pa-python). The result is one of: `absent` (no manifest: normal, most clips have
  none), `valid` (signature and content hashes check out; the signer may still be unknown to
  any trust list, which is said separately), `invalid` (with the validation failures),
  `unreadable` (the library could not parse the file's manifest) or `unsupported` (a format
  the library cannot read manifests from: nothing was checked). An invalid or unreadable
  manifest is never reported as valid or as absent.
- Container metadata: codec, frame rate, size, frame count and duration from OpenCV's FFmpeg
  reader; for MP4/MOV files also the creation time (mvhd) and encoder tag (ilst ©too / udta)
  read from the file's own boxes.
- Generation context: what the user states about how the clip was made (generator, version,
  prompt, date, who) and how it was collected (by whom, for which organisation, where it was
  found, when), from `--context FILE.toml` or a sidecar `CLIP.context.toml`; stored
  verbatim and marked as user-supplied.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import cv2

from ..errors import InputError
from ..names import printable, text_named
from . import animated
from .video import open_capture

AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia")
# The keys a context file may hold (any other is refused, naming these): how the clip was made
# (generator .. generated_by) and how it was collected (collected_by .. collected_at, the chain of
# custody the report's cover prints).
CONTEXT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "generator": str, "generator_version": str, "prompt": str, "negative_prompt": str, "seed": (int, str),
    "date": (str, date, datetime), "generated_by": str,
    "collected_by": str, "organisation": str, "source_url": str, "collected_at": (str, date, datetime),
    "notes": str,
}
MAX_CONTEXT_BYTES = 1_000_000


# -- Content Credentials ----------------------------------------------------------------------
def _actions(manifest: dict) -> list[dict]:
    out = []
    for a in manifest.get("assertions", []):
        if str(a.get("label", "")).startswith("c2pa.actions"):
            for act in (a.get("data") or {}).get("actions", []):
                agent = act.get("softwareAgent")
                if isinstance(agent, dict):
                    agent = " ".join(str(agent.get(k, "")) for k in ("name", "version")).strip()
                out.append({k: v for k, v in {
                    "action": act.get("action"),
                    "digital_source_type": act.get("digitalSourceType"),
                    "software_agent": agent,
                    "when": act.get("when"),
                    "description": act.get("description"),
                }.items() if v})
    return out


def _summary(manifest: dict) -> dict:
    sig = manifest.get("signature_info") or {}
    gens = manifest.get("claim_generator_info") or []
    generator = manifest.get("claim_generator") or "; ".join(
        " ".join(str(g.get(k, "")) for k in ("name", "version")).strip() for g in gens
    )
    actions = _actions(manifest)
    source_types = sorted({a["digital_source_type"] for a in actions if a.get("digital_source_type")})
    return {
        "label": manifest.get("label"),
        "title": manifest.get("title"),
        "claim_generator": generator or None,
        "signer": sig.get("common_name"),
        "certificate_issuer": sig.get("issuer"),
        "signing_time": sig.get("time"),
        "signature_algorithm": sig.get("alg"),
        "actions": actions,
        "digital_source_types": source_types,
        "ai_generated": any(t.rsplit("/", 1)[-1] in AI_SOURCE_TYPES for t in source_types),
        "ingredients": [
            {k: v for k, v in {
                "title": ing.get("title"), "format": ing.get("format"),
                "relationship": ing.get("relationship"), "instance_id": ing.get("instance_id"),
            }.items() if v}
            for ing in manifest.get("ingredients", [])
        ],
    }


def read_content_credentials(path: str | Path) -> dict:
    """The clip's C2PA manifest store, summarised, with its validation outcome."""
    import c2pa

    path = Path(path)
    library = f"c2pa-python (c2pa-rs {c2pa.sdk_version()})"
    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError.NotSupported:
        return {"status": "unsupported", "library": library,
                "summary": f"Content Credentials not checked: the C2PA library does not read {path.suffix or 'this'} files"}
    except c2pa.C2paError as exc:
        return {"status": "unreadable", "library": library, "reasons": [str(exc)],
                "summary": f"Content Credentials present but unreadable: {exc}"}
    if reader is None:
        return {"status": "absent", "summary": "no Content Credentials", "library": library}
    with reader:
        store = json.loads(reader.json())
    state = store.get("validation_state")
    statuses = store.get("validation_status") or []
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    # An unknown signer is not a failure of the credentials themselves: it is reported apart.
    failures = [f for f in (results.get("failure") or statuses) if f.get("code") != "signingCredential.untrusted"]
    untrusted = any(s.get("code") == "signingCredential.untrusted" for s in statuses + (results.get("failure") or []))
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    valid = state in ("Valid", "Trusted") and not failures
    status = "valid" if valid else "invalid"
    summary = _summary(active)
    if valid:
        words = "Content Credentials valid" + (" and trusted" if state == "Trusted" else "")
        if untrusted:
            words += " (the signer's certificate is not on a trust list known here)"
    else:
        words = "Content Credentials INVALID: " + "; ".join(
            f"{f.get('code')}: {f.get('explanation', '')}".strip(": ") for f in failures
        ) if failures else f"Content Credentials INVALID (validation state {state})"
    return {
        "status": status,
        "summary": words,
        "validation_state": state,
        "signer_trusted": state == "Trusted",
        "reasons": [{"code": f.get("code"), "explanation": f.get("explanation")} for f in failures],
        "active_manifest": summary,
        "manifests": len(store.get("manifests", {})),
        "library": library,
    }


# -- container ----------------------------------------------------------------------------------
_MP4_EPOCH = datetime(1904, 1, 1, tzinfo=UTC)


def _boxes(data: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i : i + 8])
        header = 8
        if size == 1 and i + 16 <= end:
            size = struct.unpack(">Q", data[i + 8 : i + 16])[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header or i + size > end:
            return
        yield kind, i + header, i + size
        i += size


def _bmff_tags(path: Path, limit: int = 64 << 20) -> dict:
    """mvhd creation time and the encoder tag of an MP4/MOV, reading only the moov box."""
    out: dict = {}
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) < 8 or head[4:8] not in (b"ftyp", b"moov", b"wide", b"free", b"mdat"):
            return out
        f.seek(0)
        pos, size = 0, path.stat().st_size
        moov = None
        while pos + 8 <= size:
            f.seek(pos)
            h = f.read(16)
            bsize, kind = struct.unpack(">I4s", h[:8])
            if bsize == 1:
                bsize = struct.unpack(">Q", h[8:16])[0]
            elif bsize == 0:
                bsize = size - pos
            if bsize < 8:
                return out
            if kind == b"moov":
                if bsize > limit:
                    return out
                f.seek(pos)
                moov = f.read(bsize)
                break
            pos += bsize
    if moov is None:
        return out

    def walk(start, end, depth=0):
        for kind, s, e in _boxes(moov, start, end):
            if kind == b"mvhd" and e - s >= 12:
                version = moov[s]
                if version == 1:
                    secs = struct.unpack(">Q", moov[s + 4 : s + 12])[0]
                else:
                    secs = struct.unpack(">I", moov[s + 4 : s + 8])[0]
                if secs:
                    out["creation_time"] = (_MP4_EPOCH + timedelta(seconds=secs)).isoformat()
            elif kind in (b"udta", b"ilst", b"trak", b"mdia") and depth < 6:
                walk(s, e, depth + 1)
            elif kind == b"meta" and depth < 6:
                walk(s + 4, e, depth + 1)  # full box: version and flags first
            elif kind in (b"\xa9too", b"\xa9enc"):
                for k2, s2, e2 in _boxes(moov, s, e):
                    if k2 == b"data" and e2 - s2 > 8:
                        out["encoder"] = moov[s2 + 8 : e2].decode("utf-8", errors="replace")
                if "encoder" not in out and e - s > 4:  # QuickTime udta string: length, language, text
                    n = struct.unpack(">H", moov[s : s + 2])[0]
                    out["encoder"] = moov[s + 4 : s + 4 + n].decode("utf-8", errors="replace")

    walk(8, len(moov))  # inside the moov box
    return out


def _animated_image_metadata(path: Path) -> dict | None:
    """What an animated GIF, WebP or PNG states, as Pillow reads it (None: not one). Frame
    durations are summed for files of at most MAX_TIMED_FRAMES frames (the reader's own limits
    refuse larger ones with a message)."""
    if animated.frame_count(path) < 2 and path.suffix.lower() != ".gif":
        return None
    import PIL
    from PIL import Image

    try:
        with Image.open(path) as im:
            fmt, (width, height), frames = im.format, im.size, int(getattr(im, "n_frames", 1))
            total = animated.shown_s(im) if frames <= MAX_TIMED_FRAMES else None
    except Exception:  # unreadable: the reader says why, as the clip's one error
        return {"readable": False}
    return {"readable": True, "container": path.suffix.lower().lstrip(".") or None, "codec": fmt, "width": width,
            "height": height, "fps": round(frames / total, 4) if total else 0.0, "frame_count": frames,
            "duration_s": round(total, 3) if total is not None else None, "reader": f"Pillow {PIL.__version__}",
            "creation_time": None, "encoder": None}


MAX_TIMED_FRAMES = 20_000


def container_metadata(path: str | Path) -> dict:
    path = Path(path)
    pillow = _animated_image_metadata(path)
    if pillow is not None:
        return pillow
    cap = open_capture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return {"readable": False}
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        meta = {
            "readable": True,
            "container": path.suffix.lower().lstrip(".") or None,
            "codec": codec,
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": round(fps, 4),
            "frame_count": frames,
            "duration_s": round(frames / fps, 3) if fps > 0 and frames > 0 else None,
            "reader": f"OpenCV {cv2.__version__} (FFmpeg backend)",
        }
    finally:
        cap.release()
    tags = _bmff_tags(path)
    meta["creation_time"] = tags.get("creation_time")
    meta["encoder"] = tags.get("encoder")
    return meta


# -- user-supplied context ---------------------------------------------------------------------
def sidecar_context(clip: str | Path) -> Path | None:
    p = Path(clip)
    side = p.with_name(p.name + ".context.toml")
    if side.is_file():
        return side
    side = p.with_suffix(".context.toml")
    return side if side.is_file() else None


def read_context(path: str | Path) -> dict:
    """A generation-context file, verbatim and parsed. Raises InputError naming the problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the context file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONTEXT_BYTES:
        raise InputError(path, f"context file over {MAX_CONTEXT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise InputError(path, "context file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"context file is not valid TOML ({exc})") from None
    unknown = [key for key in data if key not in CONTEXT_FIELDS]
    if unknown:
        raise InputError(path, f"unknown context key(s) {', '.join(map(repr, unknown))}; the known keys are "
                               f"{', '.join(CONTEXT_FIELDS)}")
    for key, kind in CONTEXT_FIELDS.items():
        if key in data and not isinstance(data[key], kind):
            wanted = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise InputError(path, f"context field '{key}' must be {wanted}, got {type(data[key]).__name__}")
    return {
        "user_supplied": True,
        "source": printable(path),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "text": text,
        "fields": json.loads(json.dumps(data, default=str)),
    }


# -- all of it --------------------------------------------------------------------------------
def provenance(clip: str | Path, context_file: str | Path | None = None) -> dict:
    """The `provenance` block of a clip's evidence."""
    ctx_path = Path(context_file) if context_file else sidecar_context(clip)
    with text_named(clip) as readable:  # the libraries below cannot take a name that is not UTF-8
        return {
            "content_credentials": read_content_credentials(readable),
            "container": container_metadata(readable),
            "context": read_context(ctx_path) if ctx_path else None,
        }
