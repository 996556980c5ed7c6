"""Page one of the evidence PDF: what was done to the clip, in words, from what the evidence holds
(mirrored, cropped, scaled, inset, backwards, speed, a region of a still), the clearest verified
frame pair, and the wording a reader trips over (headers, plurals, quotes, captions)."""

import copy
import json
import subprocess

import pytest

from auditor.demo import run_demo
from auditor.report.pdf import render_report

CLIP = "generated_clip_0042"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's flagged copy: a whole copy at the reference's speed, not mirrored, cropped or scaled
    (its frames are sampled at another resolution than the reference's)."""
    run = run_demo(tmp_path_factory.mktemp("demo"))
    path = run.results / f"{CLIP}.evidence.json"
    return {"results": run.results, "evidence": json.loads(path.read_text(encoding="utf-8"))}


def page1(demo, ev: dict, name: str, lang: str = "en") -> str:
    """Page one's text of a report of `ev`, written beside the demo's evidence (its exhibit frames)."""
    path = demo["results"] / f"{name}.evidence.json"
    path.write_text(json.dumps(ev), encoding="utf-8")
    out = render_report(path, demo["results"] / f"{name}.{lang}.pdf", lang=lang)
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(out), "-"], capture_output=True, check=True).stdout
    return "".join(text.decode().split())  # words wrap anywhere on the page: compare without spaces


def edited(demo, change) -> dict:
    ev = copy.deepcopy(demo["evidence"])
    for s in ev["works"][0]["segments"]:
        change(s)
    return ev


def squash(s: str) -> str:
    return "".join(s.split())


def test_a_plain_copy_says_nothing_was_done(demo):
    for lang, heading in (("en", "What was done to the clip"), ("ja", "クリップに加えられた加工")):
        assert squash(heading) not in page1(demo, demo["evidence"], "plain", lang)


def test_a_mirrored_copy_played_backwards_faster_is_said_so(demo):
    def change(s):
        for p in s["verification"]["pairs"]:
            p["variant"] = "flip_horizontal"
        s["speed"] = -1.5

    ev = edited(demo, change)
    en = page1(demo, ev, "mirrored")
    assert squash("What was done to the clip") in en
    assert squash("Mirrored left to right.") in en and squash("Played backwards at 1.5 times the reference's speed.") in en
    ja = page1(demo, ev, "mirrored", "ja")
    assert "クリップに加えられた加工" in ja and "左右が反転されています。" in ja
    assert squash("参照の 1.5 倍の速さで逆再生されています。") in ja


def _scale(s, k: float, tx: float = 0.0, ty: float = 0.0):
    """Make every verified pair's transform map the query frame k times larger than the demo's."""
    for p in s["verification"]["pairs"]:
        (a, b, _), (d, e, _) = p["transform"]
        p["transform"] = [[a * k, b * k, tx], [d * k, e * k, ty]]


def test_a_crop_and_a_picture_in_picture_are_told_apart_by_the_verified_transforms(demo):
    crop = edited(demo, lambda s: _scale(s, 0.6, 60, 30))  # the clip shows 60 % of the reference's width
    en = page1(demo, crop, "cropped")
    assert squash("Cropped: the clip shows about 60 % of the reference picture's width and 60 % of its height.") in en
    assert "Pictureinpicture" not in en
    assert squash("参照映像の幅の約 60 %、高さの約 60 % が写っています。") in page1(demo, crop, "cropped", "ja")
    inset = edited(demo, lambda s: _scale(s, 2.5, -200, -100))  # the reference in 40 % x 40 % of the clip
    en = page1(demo, inset, "inset")
    assert squash("Picture in picture: the reference picture fills a small part of the clip's frame, about 16 % of it.") in en
    assert "Cropped" not in en
    ja = page1(demo, inset, "inset", "ja")
    assert squash("ピクチャー・イン・ピクチャー：参照映像はクリップの画面の一部（面積の約 16 %）") in ja


def test_a_speed_change_is_said_and_the_sampled_speed_of_a_plain_copy_is_not(demo):
    slow = edited(demo, lambda s: s.update(speed=0.5))
    en = page1(demo, slow, "slow")
    assert squash("Played at 0.5 times the reference's speed.") in en and "backwards" not in en
    assert squash("参照の 0.5 倍の速さで再生されています。") in page1(demo, slow, "slow", "ja")
    assert "Playedat" not in page1(demo, edited(demo, lambda s: s.update(speed=1.03)), "steady")


def test_a_region_of_a_still_is_said_with_its_share(demo):
    def still(s):
        s.update(kind="still", ref_region=[0.25, 0.0, 0.75, 0.5], ref_start=0.0, ref_end=0.0, speed=None)

    ev = edited(demo, still)
    assert squash("A region of the still star_courier_ep01: about 25 % of its area.") in page1(demo, ev, "still")
    assert squash("静止画 star_courier_ep01 の一部（面積の約 25 %）が使われています。") in page1(demo, ev, "still", "ja")


def _frame_quality(ev: dict, t: float, quality: float) -> None:
    for f in ev["frames"]:
        if abs(f["t"] - t) < 1e-3:
            f["quality"] = {ch: quality for ch in f["quality"]}


def test_page_one_shows_the_clearest_verified_pair_not_a_featureless_or_unverified_one(demo):
    ev = demo["evidence"]
    seg = ev["works"][0]["segments"][0]
    best = max(seg["exhibits"], key=lambda x: seg["verification"]["pairs"][x["verification_pair"]]["inliers"])
    other = next(x for x in seg["exhibits"] if x is not best)
    shown = "Suspect clip at {:.2f} s (left)"
    assert squash(shown.format(best["query_t"])) in page1(demo, ev, "clearest")
    flat = copy.deepcopy(ev)  # the most inliers, on a frame too flat for the channel to vouch for
    _frame_quality(flat, best["query_t"], 5.0)
    for lang, said in (("en", shown), ("ja", "被疑クリップ {:.2f} 秒（左）")):
        text = page1(demo, flat, "flat", lang)
        assert squash(said.format(other["query_t"])) in text and squash(said.format(best["query_t"])) not in text
    unverified = edited(demo, lambda s: s["verification"]["pairs"][best["verification_pair"]].update(verified=False))
    assert squash(shown.format(other["query_t"])) in page1(demo, unverified, "unverified")


def whole(demo, ev: dict, name: str, lang: str = "en") -> str:
    """Every page's text of a report of `ev`, as laid out."""
    path = demo["results"] / f"{name}.evidence.json"
    path.write_text(json.dumps(ev), encoding="utf-8")
    out = render_report(path, demo["results"] / f"{name}.{lang}.pdf", lang=lang)
    return subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, check=True).stdout.decode()


def test_the_segments_table_heads_the_reference_and_its_times_differently(demo):
    for lang, ref, times in (("en", "Reference", "Reference (s)"), ("ja", "参照", "参照（秒）")):
        text = whole(demo, demo["evidence"], "headers", lang)
        header = next(line for line in text.splitlines() if times in line)
        assert header.count(times) == 1 and ref in header.replace(times, ""), header


def test_one_background_clip_is_one_clip_on_page_one(demo):
    ev = copy.deepcopy(demo["evidence"])
    ev["calibration"]["null"].update(method="background", clips=1, minutes=1.0, works=0)
    en = page1(demo, ev, "one-clip")
    assert squash("1 minute of background footage in 1 clip,") in en and "1clips" not in en and "1minutes" not in en
    assert squash("背景映像 1 本・計 1 分") in page1(demo, ev, "one-clip", "ja")
    ev["calibration"]["null"].update(clips=3, minutes=2.5)
    assert squash("2.5 minutes of background footage in 3 clips,") in page1(demo, ev, "three-clips")


@pytest.mark.parametrize("title", ["「長い配達」", "｢長い配達｣", "【長い配達】", "第1話「長い配達」", "“The Long Delivery”"])
def test_a_title_that_carries_its_own_brackets_is_not_wrapped_again(demo, title):
    ev = copy.deepcopy(demo["evidence"])
    for r in ev["references"].values():
        r["title"] = title
    for lang in ("en", "ja"):
        text = page1(demo, ev, "bracketed", lang)
        assert squash(title) in text and squash(f"「{title}」") not in text and squash(f"“{title}”") not in text


def test_frame_pairs_drawn_without_lines_do_not_say_they_are(demo):
    for lang, drawn, appendix in (("en", "drawn as lines", "Appendix A"), ("ja", "線で表示", "付録 A")):
        text = whole(demo, demo["evidence"], "captions", lang)
        before, _, after = text.partition(appendix + "：" if lang == "ja" else appendix + ":")
        assert "".join(before.split()).count(squash(drawn)) == 0
        assert squash(drawn) in squash(after)  # the overlays, where the lines are
