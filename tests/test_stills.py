"""Key art brought to life: a catalogue still is indexed whole and by tiles, so a clip that
zooms and pans over a small region of it is found, and the evidence names and draws the region."""

import hashlib
import json
import shutil
import sqlite3

import cv2
import numpy as np
import pytest
from helpers import assert_valid_evidence

import reference_index as ri
from auditor.config import load_config
from auditor.evidence.files import read_evidence
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.media import synth
from auditor.media.reader import MediaReader, tile_boxes
from auditor.report.pdf import render_report
from auditor.scan.batch import run_batch


def test_tiles_cover_the_still_at_each_level_with_half_steps():
    boxes = tile_boxes([2, 3])
    assert len(boxes) == 9 + 25
    assert all(0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for x0, y0, x1, y1 in boxes)
    thirds = [b for b in boxes if round(b[2] - b[0], 3) == round(1 / 3, 3)]
    # any region of a tenth of the still lies mostly inside one third-size tile
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = h = np.sqrt(0.1)
        x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        best = max(max(0, min(x + w, b[2]) - max(x, b[0])) * max(0, min(y + h, b[3]) - max(y, b[1])) for b in thirds)
        assert best >= 0.5 * w * h


def key_art(path, seed=5):
    """A drawn poster, wider than a screen, detailed everywhere."""
    tiles = [synth.scene_frame(seed + k, 0.5, 640, 360) for k in range(4)]
    art = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
    cv2.imwrite(str(path), cv2.cvtColor(art, cv2.COLOR_RGB2BGR))
    return art


def test_a_still_is_read_whole_and_by_tiles_for_the_catalogue_only(tmp_path):
    key_art(tmp_path / "art.png")
    cfg = load_config()
    frames = list(MediaReader(tmp_path / "art.png", 1.0, cfg, still_tiles=(2, 3)).frames())
    assert len(frames) == 35 and frames[0].box is None and frames[1].box == (0.0, 0.0, 0.5, 0.5)
    assert all(f.t == 0.0 for f in frames) and max(frames[0].image.shape[:2]) == cfg.sampling.max_side
    assert frames[-1].image.shape[:2] == (240, 427)  # a tile is cut from the full picture, then brought down
    assert len(list(MediaReader(tmp_path / "art.png", 1.0, cfg).frames())) == 1  # a suspect still: whole only


@pytest.fixture(scope="module")
def art_index(tmp_path_factory):
    d = tmp_path_factory.mktemp("keyart")
    art = key_art(d / "poster.png")
    other = synth.write_clip(d / "other.mp4", lambda t: synth.scene_frame(70, t, 320, 180), 4.0)
    add_items(d / "idx", [CatalogueItem(d / "poster.png", "Harbour Tales", "Studio H"),
                          CatalogueItem(other, "Other", "Studio O")], load_config(), ["pdq", "orb"])
    return d, art


def test_a_zoom_and_pan_over_a_tenth_of_the_key_art_is_found_and_its_region_named_and_drawn(art_index, tmp_path):
    d, art = art_index
    h, w = art.shape[:2]
    bw, bh = int(w * 0.33), int(h * 0.33)  # a region of about a tenth of the poster's area
    lead = np.linspace(30, 200, 480, dtype=np.uint8)[None, :, None].repeat(270, 0).repeat(3, 2)

    def frame(t):
        if t < 1.0:
            return lead  # a plain title card before the key art comes alive
        x = int(0.55 * w + (t - 1.0) * 30)
        crop = art[int(0.1 * h) : int(0.1 * h) + bh, x : x + bw]
        return cv2.resize(crop, (480, 270), interpolation=cv2.INTER_AREA)
    clip = synth.write_clip(tmp_path / "alive.mp4", frame, 5.0, fps=25.0)
    run_batch([clip], d / "idx", tmp_path / "out", load_config())
    ev = read_evidence(tmp_path / "out" / "alive.evidence.json")
    assert_valid_evidence(tmp_path / "out" / "alive.evidence.json")
    assert ev.verdict.flagged and ev.works[0].work == "Harbour Tales"
    seg = ev.works[0].segments[0]
    assert seg.kind == "still" and seg.query_start == pytest.approx(1.0, abs=0.45)
    x0, y0, x1, y1 = seg.ref_region
    truth = (0.55, 0.1, 0.55 + 0.33 + 120 / w, 0.1 + 0.33)
    inter = max(0, min(x1, truth[2]) - max(x0, truth[0])) * max(0, min(y1, truth[3]) - max(y0, truth[1]))
    union = (x1 - x0) * (y1 - y0) + (truth[2] - truth[0]) * (truth[3] - truth[1]) - inter
    assert inter / union > 0.5, seg.ref_region  # the region of the poster the clip shows
    assert any(p.ref_box is not None for p in seg.pairs)  # found through tiles
    assert seg.still_image and all(ex.ref_box is not None for ex in seg.exhibits)
    pdf = render_report(tmp_path / "out" / "alive.evidence.json", tmp_path / "r.pdf")
    import subprocess

    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Region of the still" in text and "of its area" in text


def test_a_catalogue_written_before_tiles_still_opens_and_takes_tiles(art_index, tmp_path):
    d, _ = art_index
    idx = shutil.copytree(d / "idx", tmp_path / "idx")
    manifest = json.loads((idx / "manifest.json").read_text())
    cat = idx / f"gen-{manifest['generation']:06d}" / manifest["catalogue"]["file"]
    with sqlite3.connect(cat) as conn:
        conn.execute("ALTER TABLE frames DROP COLUMN box")  # as written before tiles
    manifest["catalogue"]["bytes"] = cat.stat().st_size
    manifest["catalogue"]["sha256"] = hashlib.sha256(cat.read_bytes()).hexdigest()  # as its writer recorded it
    (idx / "manifest.json").write_text(json.dumps(manifest))
    with ri.ReferenceIndex.open(idx) as reader:
        assert all(ref.box is None for ref in reader.frame_refs(range(1, 40)).values())
    with ri.IndexWriter(idx):  # the next writer brings the catalogue up to date
        pass
    with ri.ReferenceIndex.open(idx) as reader:
        assert reader.frame_refs([1])[1].box is None
