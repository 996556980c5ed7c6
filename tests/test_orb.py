"""The orb channel's query keypoints: captions must not crowd out the picture."""

import cv2
import numpy as np
import pytest

from auditor.channels.orb import ORBChannel
from auditor.config import load_config
from auditor.media import synth
from auditor.media.reader import MediaReader
from reference_index.experimental.vocabulary import Vocabulary
from reference_index.experimental.words import WordIndex
from reference_index.search import faiss


def _captioned(image: np.ndarray) -> np.ndarray:
    """The evaluation set's caption edit: a logo, a darkened band and white text over it."""
    out = synth.overlay_logo(image.copy())
    h, w = out.shape[:2]
    out[int(h * 0.8) :] = (out[int(h * 0.8) :] * 0.35).astype(np.uint8)
    cv2.putText(out, "Subscribe for more", (int(w * 0.05), int(h * 0.93)), cv2.FONT_HERSHEY_SIMPLEX, h / 300,
                (255, 255, 255), 2, cv2.LINE_AA)
    return out


def _top_candidate(refs: list[np.ndarray], query: np.ndarray, per_cell: int) -> tuple[int, float]:
    config = load_config(overrides={"channels": {"orb": {"query_per_cell": per_cell}}})
    channel = ORBChannel(config)
    emb = channel.embed(refs)
    index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(256))
    index.add_with_ids(emb.vectors, emb.frame_of)
    _, ranked = channel.candidates(channel.embed([query], query=True), lambda v, k: index.search(v, k), 3)
    fid, votes, _ = ranked[0][0]
    return fid, votes


@pytest.mark.corpus
def test_a_caption_over_low_texture_footage_still_finds_its_frame(corpus):
    config = load_config()

    def frames(name):
        return [f.image for f in MediaReader(corpus / "videos" / name, 1.0, config).frames()]

    # a plain, low-texture interior beside two other clips; the caption's sharp text has more
    # corners than the whole picture
    refs = frames("tmk_chair_orig_22s.mp4")[:10] + frames("tmk_doorknob_720p_4s.mp4") + frames("his_girl_friday_480p_6s.mp4")
    min_votes = config.channels.of("orb").min_votes
    for target in (2, 5, 8):
        fid, votes = _top_candidate(refs, _captioned(refs[target]), per_cell=18)
        assert fid == target and votes >= 2 * min_votes
    # without the grid the strongest corners are the caption's, and the frame is lost
    assert [_top_candidate(refs, _captioned(refs[t]), per_cell=0)[0] for t in (2, 5, 8)] != [2, 5, 8]


def test_query_keypoints_cover_the_picture_around_a_caption():
    channel = ORBChannel(load_config())
    gray = cv2.cvtColor(_captioned(synth.scene_frame(5, 1.0, 480, 270)), cv2.COLOR_RGB2GRAY)
    spread, desc = channel._spread_keypoints(channel._orb(4 * channel.features_query), gray)
    assert len(desc) == len(spread)
    strongest = channel._orb(channel.features_query).detect(gray, None)

    def above_caption(kps):
        return sum(k.pt[1] < 0.8 * 270 for k in kps)

    assert len(spread) <= channel.features_query + 16 * channel.query_per_cell
    assert above_caption(spread) >= 1.2 * above_caption(strongest)


def test_orb_end_to_end_a_crop_is_found_and_orb_alone_never_flags_unverified(orb_index, cropped_copy, footage, tmp_path):
    from auditor.evidence.files import read_evidence
    from auditor.scan.batch import run_batch

    config = load_config()
    run_batch([cropped_copy, footage["unrelated"]], orb_index, tmp_path / "out", config)
    crop = read_evidence(tmp_path / "out" / "crop.evidence.json")
    assert crop.verdict.flagged and crop.verdict.level == "strong resemblance"
    seg = crop.works[0].segments[0]
    assert seg.ref_id == "ep01" and set(seg.channels) == {"orb", "local"} and "pdq" not in seg.channel_stats
    assert seg.query_start == pytest.approx(0.5, abs=0.45) and seg.ref_start == pytest.approx(2.0, abs=0.6)
    assert seg.verification.status == "verified" and seg.verification.pairs_verified >= 2
    decisive = {o.rule for o in seg.rules if o.decisive}
    assert decisive == {"verification.verified"}  # votes alone grant nothing: geometry did
    # an unrelated clip: its orb-only candidates fail verification, are dropped and listed
    unrelated = read_evidence(tmp_path / "out" / "unrelated.evidence.json")
    assert not unrelated.verdict.flagged and unrelated.works == ()
    assert unrelated.rejected_segments
    for r in unrelated.rejected_segments:
        assert r.channels == ("orb",) and r.verification.status == "not verified"
        required = next(o for o in r.rules if o.rule == "verification.required")
        assert not required.passed and required.decisive
    # without verification, orb-only segments are kept but stay weak: they cannot flag a clip
    unverified = load_config(overrides={"verify": {"enabled": False}})
    run_batch([footage["unrelated"]], orb_index, tmp_path / "nv", unverified)
    ev = read_evidence(tmp_path / "nv" / "unrelated.evidence.json")
    assert ev.works and not ev.verdict.flagged and {s.level for s in ev.segments()} == {"weak resemblance"}


def _texture(seed: int) -> np.ndarray:
    """A drawn picture with no symmetry: letters and strokes of many sizes on a gradient."""
    rng = np.random.default_rng(seed)
    out = np.zeros((270, 480, 3), np.uint8)
    out[:] = np.linspace(rng.integers(0, 120, 3), rng.integers(100, 255, 3), 480)[None, :, :].astype(np.uint8)
    for _ in range(45):
        x, y = int(rng.integers(0, 460)), int(rng.integers(20, 265))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.7:
            text = "".join(rng.choice(list("AEFGJKLNPQRSZ2347")) for _ in range(int(rng.integers(1, 4))))
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.4, 1.6)), colour, 2, cv2.LINE_AA)
        else:
            cv2.line(out, (x, y), (x + int(rng.integers(-60, 60)), y - int(rng.integers(5, 60))), colour, 2, cv2.LINE_AA)
    return out


def _index(channel, refs):
    emb = channel.embed(refs)
    index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(256))
    index.add_with_ids(emb.vectors, emb.frame_of)
    return lambda v, k: index.search(v, k)


class _Words:
    """The reference frames in visual words, searched as a scan searches an index that keeps them."""

    by_frame = True

    def __init__(self, channel, refs):
        emb = channel.embed(refs)
        rank = np.arange(len(emb.frame_of)) - np.searchsorted(emb.frame_of, emb.frame_of)
        self.words = WordIndex(Vocabulary.for_catalogue(emb.vectors, len(emb.vectors)), 10, competition=4)
        self.words.add_with_ids(emb.vectors, (emb.frame_of << 10) | rank)

    def shortlists(self, vectors, frame_of, rows):
        return self.words.shortlists(vectors, frame_of, rows)

    def nearest_competitors(self, vectors):
        return self.words.nearest_competitors(vectors)

    def votes(self, vectors, frame_of, rows, short, k, max_distance, only=None):
        return self.words.votes(vectors, frame_of, rows, short, k, max_distance, only)


@pytest.mark.parametrize("structure", ["exhaustive", "words"])
def test_the_mirrored_query_wins_only_for_a_mirrored_frame(structure):
    refs = [_texture(seed) for seed in (3, 4, 5, 6)]
    channel = ORBChannel(load_config())
    search = _index(channel, refs) if structure == "exhaustive" else _Words(channel, refs)
    _, ranked = channel.candidates(channel.embed([np.ascontiguousarray(refs[2][:, ::-1]), refs[1]], query=True), search, 3)
    assert ranked[0][0][0] == 2 and ranked[0][0][2] == "flip_horizontal"
    assert ranked[1][0][0] == 1 and ranked[1][0][2] == "original"
    assert all(var == ranked[0][0][2] for _, _, var in ranked[0])  # a frame's candidates come from one variant


@pytest.fixture(scope="module")
def catalogue_frames():
    """About a hundred frames of real footage (chance votes spread over them as over a real index)."""
    from helpers import CORPUS

    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    config = load_config()
    refs = [f.image for name in ("tears_of_steel_battle_332p_70s.webm", "popeye_sinbad_part2_1440p_60s.mkv",
                                 "bbb_opening_720p_30s.webm", "tmk_chair_orig_22s.mp4")
            for f in MediaReader(CORPUS / "videos" / name, 0.5, config).frames()]
    door = next(f.image for f in MediaReader(CORPUS / "videos" / "tmk_doorknob_720p_4s.mp4", 1.0, config).frames())
    return refs, door


@pytest.mark.corpus
@pytest.mark.parametrize("edit", ["inset", "crop", "caption"])
def test_a_mirrored_inset_crop_or_caption_is_found_through_the_mirrored_query(catalogue_frames, edit):
    config = load_config()
    refs, door = catalogue_frames
    target = np.ascontiguousarray(refs[10][:, ::-1])  # the copy is mirrored, then edited
    h, w = target.shape[:2]
    if edit == "inset":
        query = cv2.resize(door, (w, h))
        iw, ih = int(w * 0.5), int(h * 0.5)
        query[h // 4 : h // 4 + ih, w // 3 : w // 3 + iw] = cv2.resize(target, (iw, ih), interpolation=cv2.INTER_AREA)
    elif edit == "crop":
        query = cv2.resize(np.ascontiguousarray(target[h // 8 : -h // 8, w // 10 : -w // 10]), (w, h))
    else:
        query = _captioned(target)
    channel = ORBChannel(config)
    search = _index(channel, refs)
    _, ranked = channel.candidates(channel.embed([query], query=True), search, 3)
    fid, votes, variant = ranked[0][0]
    assert (fid, variant) == (10, "flip_horizontal") and votes >= config.channels.of("orb").min_votes
    plain = ORBChannel(load_config(overrides={"channels": {"orb": {"query_mirror": False}}}))
    _, ranked = plain.candidates(plain.embed([query], query=True), search, 3)
    assert not ranked[0] or ranked[0][0][1] <= votes / 2  # as shot, chance votes: at most half


def test_held_frames_are_searched_once_and_keep_their_source_frames_matches(orb_index, tmp_path):
    """Animation holds a drawing for several frames: a held frame takes the candidates of the
    frame it repeats, so the clip's descriptors are searched once per drawing, not per sample."""
    from auditor.evidence.files import read_evidence
    from auditor.media import synth
    from auditor.scan.batch import run_batch

    def on_threes(t):  # a new drawing every 0.6 s: three samples of each at 5 frames/s
        return synth.scene_frame(11, 2.0 + round(t / 0.6) * 0.6, 320, 180)

    clip = synth.write_clip(tmp_path / "held.mp4", on_threes, 4.0, fps=25.0)
    run_batch([clip], orb_index, tmp_path / "out", load_config())
    ev = read_evidence(tmp_path / "out" / "held.evidence.json")
    assert ev.verdict.flagged and ev.works[0].segments[0].ref_id == "ep01"
    searched = ev.runtime.searched["orb"]
    assert ev.clip.frames_embedded < len(ev.frames)
    assert searched.frames <= ev.clip.frames_embedded < len(ev.frames)
    assert ev.runtime.pairs_verified >= 1
    # a held frame shows the same matches as the drawing it repeats
    tops = [[(m.ref_id, m.ref_t, m.raw) for m in f.top.get("orb", ())] for f in ev.frames]
    assert sum(bool(a) and a == b for a, b in zip(tops, tops[1:])) >= len(tops) // 3
