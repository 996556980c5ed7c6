"""The orb channel's query keypoints: captions must not crowd out the picture."""

import cv2
import faiss
import numpy as np
import pytest

from auditor.media import synth
from auditor.channels.orb import ORBChannel
from auditor.config import load_config
from auditor.media.reader import MediaReader


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
    min_votes = config["channels"]["orb"]["min_votes"]
    for target in (2, 5, 8):
        fid, votes = _top_candidate(refs, _captioned(refs[target]), per_cell=18)
        assert fid == target and votes >= 2 * min_votes
    # without the grid the strongest corners are the caption's, and the frame is lost
    assert [_top_candidate(refs, _captioned(refs[t]), per_cell=0)[0] for t in (2, 5, 8)] != [2, 5, 8]


def test_query_keypoints_cover_the_picture_around_a_caption():
    channel = ORBChannel(load_config())
    gray = cv2.cvtColor(_captioned(synth.scene_frame(5, 1.0, 480, 270)), cv2.COLOR_RGB2GRAY)
    spread = channel._spread_keypoints(channel._orb(4 * channel.features_query), gray)
    strongest = channel._orb(channel.features_query).detect(gray, None)

    def above_caption(kps):
        return sum(k.pt[1] < 0.8 * 270 for k in kps)

    assert len(spread) <= channel.features_query + 16 * channel.query_per_cell
    assert above_caption(spread) >= 1.2 * above_caption(strongest)
