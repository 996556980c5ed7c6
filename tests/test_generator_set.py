"""The real-generator evaluation, end to end on a small stand-in: outputs whose first frame is the
image they were given, a two-still interpolation, an output of a held-out image and a text-to-video
output; shared as MP4 at 720 lines (or as the published GIF); found, false positives and the simple
matcher's figures per half."""

import csv
import json

import cv2
from PIL import Image

from auditor.media import synth
from evaluation import generators


def _image(path, seed):
    art = synth.scene_frame(seed, 0.5, 320, 180)
    cv2.imwrite(str(path), cv2.cvtColor(art, cv2.COLOR_RGB2BGR))
    return art


def _gif(path, first, last=None, seed=0):
    frames = [first] + [synth.scene_frame(seed, 0.1 * k, 320, 180) for k in range(1, 15)] + ([last] if last is not None else [])
    Image.fromarray(frames[0]).save(path, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]],
                                    duration=100, loop=0)


def test_a_generator_set_is_built_shared_and_measured_per_half(tmp_path):
    raw = tmp_path / "raw"
    rows = []
    for k in range(6):  # six image-to-video outputs of six images (works)
        d = raw / "Gen" / f"i2v_{k}"
        d.mkdir(parents=True)
        art = _image(d / "input.png", 10 + k)
        _gif(d / "output.gif", art, seed=200 + k)
        rows.append({"source": "Gen", "id": f"i2v_{k}", "kind": "i2v", "inputs": f"Gen/i2v_{k}/input.png",
                     "output": f"Gen/i2v_{k}/output.gif"})
    d = raw / "Gen" / "between"
    d.mkdir(parents=True)
    a, b = _image(d / "a.png", 40), _image(d / "b.png", 41)
    _gif(d / "output.gif", a, b, seed=300)
    rows.append({"source": "Gen", "id": "between", "kind": "interpolation_two_stills",
                 "inputs": "Gen/between/a.png;Gen/between/b.png", "output": "Gen/between/output.gif"})
    d = raw / "Gen" / "t2v"
    d.mkdir(parents=True)
    _gif(d / "output.gif", synth.scene_frame(500, 0.0, 320, 180), seed=500)
    rows.append({"source": "Gen", "id": "t2v", "kind": "t2v_no_input", "inputs": "", "output": "Gen/t2v/output.gif"})
    with (raw / "pairs.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    out = tmp_path / "set"
    generators.make(raw, out, corpus=None)
    truth = list(csv.DictReader((out / "truth.csv").open()))
    assert len(truth) == 8 and {t["split"] for t in truth} == {"tune", "report"}
    held_out = [t for t in truth if t["kind"].startswith("negative_") and t["kind"] != "negative_t2v_no_input"]
    assert 1 <= len(held_out) <= 3  # about a third of the works are kept out of the catalogue
    shared = {t["shared"] for t in truth}
    assert shared == {"mp4_720", "mp4_720_watermark", "original"}
    mp4 = next(out.glob("queries/*.mp4"))
    cap = cv2.VideoCapture(str(mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 720  # upscaled as shared
    cap.release()

    results = tmp_path / "figures.jsonl"
    generators.main(["run", str(out), "--channels", "pdq", "--results", str(results)])
    line = json.loads(results.read_text().splitlines()[-1])
    for half in ("tune", "report"):
        m = line["figures"][half]
        assert m["false_positives"] == 0
        assert m["found"] == m["positives"] > 0, m  # every kept image's output: its first frame is the image
        assert m["baseline_every_frame_found"] == m["positives"]
    both = [line["figures"][h]["two_stills_both_named"] for h in ("tune", "report")]
    assert "1 of 1" in both or all(x == "0 of 0" for x in both)
