"""Held frames are embedded once and reuse their vectors; nothing else changes. Frames decoded
ahead in a helper thread arrive in order, with the decoder's errors, and stop with their reader."""

import numpy as np
import pytest

from auditor.channels import create_channel
from auditor.config import load_config
from auditor.media import synth
from auditor.scan.pipeline import embed_file


def test_held_frames_reuse_vectors_and_give_the_same_embeddings(tmp_path):
    # a drawing held for a whole second at a time (24 fps), sampled at 5 fps
    clip = synth.write_clip(tmp_path / "held.mp4", lambda t: synth.scene_frame(4, float(int(t)), 320, 180), 4.0, 24.0)
    pruned_cfg = load_config()
    full_cfg = load_config(overrides={"sampling": {"held_frame_max_diff": 0.0}})
    channels = {n: create_channel(n, pruned_cfg) for n in ("pdq", "orb")}
    pruned = embed_file(clip, 5.0, channels, pruned_cfg, query=True, dense_when_short=False)
    full = embed_file(clip, 5.0, channels, full_cfg, query=True, dense_when_short=False)
    assert full.embedded_frames == full.n_frames == 20
    assert pruned.n_frames == 20 and 4 <= pruned.embedded_frames <= 8  # about one per drawing
    assert np.array_equal(pruned.times, full.times)
    p, f = pruned.embeddings["pdq"], full.embeddings["pdq"]
    assert np.array_equal(p.keep, f.keep)
    dist = np.unpackbits(p.vectors ^ f.vectors, axis=1).sum(1)
    assert dist.max() <= 8  # re-encoded repeats of one drawing: the same hash, give or take noise
    assert set(p.variants) == set(f.variants) and all(len(v) == 20 for v in p.variants.values())
    o = pruned.embeddings["orb"]
    assert sorted(set(o.frame_of.tolist())) == list(range(20))  # every frame has its local features
    first, second = o.vectors[o.frame_of == 0], o.vectors[o.frame_of == 1]
    assert np.array_equal(first, second)  # frame 1 reuses frame 0's descriptors


def test_decoding_ahead_hands_over_errors_in_order_and_stops_with_its_consumer():
    from auditor.scan.pipeline import prefetched

    def frames(log):
        try:
            for i in range(5):
                log.append(i)
                yield i
            raise ValueError("frame 5 is corrupt")
        finally:
            log.append("released")

    log: list = []
    got = []
    with pytest.raises(ValueError, match="frame 5 is corrupt"):
        for item in prefetched(frames(log), depth=2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4] and log[-1] == "released"

    log = []
    stream = prefetched(frames(log), depth=2)
    assert next(stream) == 0
    stream.close()  # the consumer gives up early (an error in a channel, Ctrl-C)
    assert log[-1] == "released" and len(log) <= 5  # the decoder is released, not read to the end


def test_channels_embed_side_by_side_and_a_failing_one_fails_the_file_without_leaving_threads(tmp_path):
    import threading

    clip = synth.write_clip(tmp_path / "c.mp4", lambda t: synth.scene_frame(2, t, 320, 180), 2.0, 24.0)
    cfg = load_config(overrides={"sampling": {"held_frame_max_diff": 0.0}})
    pdq, orb = create_channel("pdq", cfg), create_channel("orb", cfg)
    together = embed_file(clip, 5.0, {"pdq": pdq, "orb": orb}, cfg, query=True)
    alone = {n: embed_file(clip, 5.0, {n: c}, cfg, query=True).embeddings[n] for n, c in (("pdq", pdq), ("orb", orb))}
    for name in ("pdq", "orb"):
        assert np.array_equal(together.embeddings[name].vectors, alone[name].vectors)
        assert np.array_equal(together.embeddings[name].keep, alone[name].keep)

    class Broken:
        def __getattr__(self, attr):
            return getattr(orb, attr)

        def embed(self, images, query=False):
            raise RuntimeError("the channel failed on this chunk")

    with pytest.raises(RuntimeError, match="failed on this chunk"):
        embed_file(clip, 5.0, {"pdq": pdq, "orb": Broken()}, cfg, query=True)
    assert not [t for t in threading.enumerate() if t.name.startswith(("auditor-embed", "auditor-decode"))]


def test_chunks_search_on_one_faiss_thread_while_frames_are_described_and_on_all_after():
    """While the clip is still decoded and described, a chunk's search must not split over an
    OpenMP team that competes with them for the cores; the chunks left once every frame is
    described (and the next clip's, whatever ran before) get FAISS's threads again."""
    from auditor.channels.base import Embeddings
    from auditor.scan.ahead import SearchAhead
    from reference_index.search import faiss

    if faiss.omp_get_max_threads() < 2:
        pytest.skip("one OpenMP thread on this machine: nothing to tell apart")
    seen = []

    class Channel:
        def candidates(self, emb, search, k):
            seen.append(faiss.omp_get_max_threads())
            return np.nonzero(emb.keep)[0], [[] for _ in range(int(emb.keep.sum()))]

    class Index:
        def searcher(self, name):
            return type("S", (), {"stats": {}})()

    chunk = {"x": Embeddings(np.zeros((2, 4), np.float32), np.ones(2, bool), None, None, np.arange(2))}
    ahead = SearchAhead({"x": Channel()}, Index(), 3)
    ahead.submit(chunk)
    ahead.parts[-1][1].result()
    ahead.gather("x")  # every frame described
    ahead.submit(chunk)
    ahead.gather("x")
    ahead.close()
    assert seen == [1, faiss.omp_get_max_threads()]
