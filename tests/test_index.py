import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import reference_index as ri
from reference_index.store import manifest

FP_PDQ = {"id": "pdq-aaaa", "name": "pdq", "algorithm": "PDQ"}
FP_CLIP = {"id": "clip-bbbb", "name": "clip", "model": "ViT-B-32", "weights_sha256": "1" * 64}


def make(path):
    return ri.ReferenceIndex.create(
        path,
        {
            "pdq": {"metric": "hamming", "dim": 256, "fingerprint": FP_PDQ},
            "clip": {"metric": "ip", "dim": 8, "fingerprint": FP_CLIP},
        },
    )


def add(writer, ref_id, n, seed, work="Work A", owner="Studio A", path=None):
    rng = np.random.default_rng(seed)
    pdq = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    clip = rng.normal(size=(n, 8)).astype(np.float32)
    clip /= np.linalg.norm(clip, axis=1, keepdims=True)
    keep = np.ones(n, bool)
    keep[0] = False  # first frame featureless: no PDQ vector
    writer.add_video(
        work=work,
        owner=owner,
        ref_id=ref_id,
        info={"path": path or f"{ref_id}.mp4", "sha256": f"sha-{ref_id}", "kind": "video",
              "duration_s": n / 2, "fps": 24, "width": 320, "height": 180},
        times=np.arange(n) * 0.5,
        vectors={"pdq": (np.nonzero(keep)[0], pdq[keep]), "clip": (np.arange(n), clip)},
    )
    return pdq, clip


def test_add_reopen_and_search_map_back_to_videos_and_times(tmp_path):
    idx = make(tmp_path / "idx")
    with idx.writer() as w:
        pdq, clip = add(w, "ep01", 6, seed=1)
        add(w, "ep02", 4, seed=2, work="Work B", owner="Studio B")
    idx = ri.ReferenceIndex.open(tmp_path / "idx")
    info = idx.info()
    assert info["counts"] == {"works": 2, "videos": 2, "frames": 10}
    assert info["channels"]["pdq"]["vectors"] == 8 and info["channels"]["clip"]["vectors"] == 10
    d, ids = idx.search("pdq", pdq[3:4], 1)
    ref = idx.frame_refs(ids.ravel())[int(ids[0, 0])]
    assert d[0, 0] == 0 and (ref.ref_id, ref.t, ref.work, ref.owner) == ("ep01", 1.5, "Work A", "Studio A")
    s, ids = idx.search("clip", clip[5:6], 1)
    assert s[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert idx.frame_refs(ids.ravel())[int(ids[0, 0])].t == 2.5
    _, ids = idx.search("pdq", pdq[0:1], 8)  # ep01's first frame (id 1) was kept out of PDQ
    assert 1 not in ids[0] and 2 in ids[0]
    assert idx.check_integrity() == []


def test_fingerprint_and_channel_mismatch_are_refused_with_both_named(tmp_path):
    idx = make(tmp_path / "idx")
    idx.check_fingerprint("clip", FP_CLIP)
    other = dict(FP_CLIP, id="clip-cccc", weights_sha256="2" * 64)
    with pytest.raises(ri.FingerprintMismatch) as e:
        idx.check_fingerprint("clip", other)
    assert "clip-bbbb" in str(e.value) and "clip-cccc" in str(e.value)
    with pytest.raises(ri.ChannelMismatch, match="holds channels clip,pdq"):
        idx.check_channels(["pdq"])


def test_catalogue_conflicts_leave_the_index_unchanged(tmp_path):
    idx = make(tmp_path / "idx")
    with idx.writer() as w:
        add(w, "ep01", 3, seed=1)
        with pytest.raises(ri.CatalogueConflict, match="already used"):
            add(w, "ep01", 3, seed=2, path="elsewhere/ep01.mp4")
        with pytest.raises(ri.CatalogueConflict, match="already owned by 'Studio A'"):
            add(w, "ep09", 3, seed=3, owner="Somebody Else")
    idx = ri.ReferenceIndex.open(tmp_path / "idx")
    assert idx.info()["counts"]["frames"] == 3
    assert idx.info()["channels"]["clip"]["vectors"] == 3


def test_an_error_inside_a_writer_discards_its_changes(tmp_path):
    idx = make(tmp_path / "idx")
    idx.close()  # no reader holds generation 1: the commit deletes it
    with idx.writer() as w:
        add(w, "ep01", 3, seed=1)
    with pytest.raises(RuntimeError):
        with idx.writer() as w:
            add(w, "ep02", 3, seed=2)
            raise RuntimeError("boom")
    idx = ri.ReferenceIndex.open(tmp_path / "idx")
    assert [v["ref_id"] for v in idx.videos()] == ["ep01"]
    assert sorted(p.name for p in (tmp_path / "idx").glob("gen-*")) == ["gen-000002"]


def test_a_failure_while_committing_leaves_the_previous_index_readable(tmp_path, monkeypatch):
    idx = make(tmp_path / "idx")
    with idx.writer() as w:
        add(w, "ep01", 3, seed=1)
    before = (tmp_path / "idx" / "manifest.json").read_bytes()

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(manifest, "atomic_write_bytes", fail)
    with pytest.raises(ri.IndexWriteFailed, match="disk full"):
        with idx.writer() as w:
            add(w, "ep02", 3, seed=2)
    monkeypatch.undo()
    assert not (tmp_path / "idx" / "gen-000003").exists()  # what the failed commit wrote is gone
    assert (tmp_path / "idx" / "manifest.json").read_bytes() == before
    idx = ri.ReferenceIndex.open(tmp_path / "idx")
    assert [v["ref_id"] for v in idx.videos()] == ["ep01"]
    with idx.writer() as w:  # the next writer cleans up and works
        add(w, "ep02", 3, seed=2)
    assert len(ri.ReferenceIndex.open(tmp_path / "idx").videos()) == 2


def test_a_process_killed_mid_write_leaves_the_previous_index_readable(tmp_path):
    idx = make(tmp_path / "idx")
    with idx.writer() as w:
        add(w, "ep01", 3, seed=1)
    idx.close()  # no reader holds an older generation
    # A child process adds a video, starts committing (vector files written) and dies hard.
    script = textwrap.dedent(
        f"""
        import os, sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import reference_index as ri
        from reference_index.store import writer
        from test_index import add
        def die(*a, **k):
            os._exit(9)
        writer.write_manifest = die
        w = ri.IndexWriter({str(tmp_path / "idx")!r})
        w.__enter__()
        add(w, "ep02", 4, seed=2)
        w.__exit__(None, None, None)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 2  # the half-written generation is there
    idx = ri.ReferenceIndex.open(tmp_path / "idx")
    assert [v["ref_id"] for v in idx.videos()] == ["ep01"]
    assert idx.check_integrity() == []
    idx.close()
    with ri.IndexWriter(tmp_path / "idx") as w:
        add(w, "ep03", 2, seed=3)
    idx = ri.ReferenceIndex.open(tmp_path / "idx")
    assert [v["ref_id"] for v in idx.videos()] == ["ep01", "ep03"]
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 1


def test_damaged_files_are_detected(tmp_path):
    idx = make(tmp_path / "idx")
    with idx.writer() as w:
        add(w, "ep01", 5, seed=1)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    gen = tmp_path / "idx" / f"gen-{manifest['generation']:06d}"
    clip_file = gen / manifest["channels"]["clip"]["file"]
    data = bytearray(clip_file.read_bytes())
    data[-5] ^= 0xFF  # same size, different bytes
    clip_file.write_bytes(bytes(data))
    with pytest.raises(ri.IndexCorrupt, match="clip.faiss: its SHA-256 differs"):
        ri.ReferenceIndex.open(tmp_path / "idx")  # refused before use
    with ri.ReferenceIndex.open(tmp_path / "idx", verify=False) as unchecked:  # what `index info --verify` does
        problems = unchecked.check_integrity()
    assert len(problems) == 1 and "clip.faiss" in problems[0]
    clip_file.write_bytes(bytes(data[:100]))  # truncated
    with pytest.raises(ri.IndexCorrupt, match="damaged"):
        ri.ReferenceIndex.open(tmp_path / "idx")


def test_not_an_index_and_a_second_writer(tmp_path):
    with pytest.raises(ri.IndexNotFound):
        ri.ReferenceIndex.open(tmp_path)
    idx = make(tmp_path / "idx")
    with idx.writer():
        with pytest.raises(ri.IndexLocked):
            with idx.writer():
                pass


def test_a_code_that_occurs_many_times_in_a_query_is_searched_once_with_the_same_answer():
    """A clip's unchanged corners give the same ORB descriptor frame after frame: each distinct
    code is searched once, and every copy of it gets exactly the answer a search of its own gets,
    in exact search and in inverted lists alike."""
    from reference_index.search.vectors import ChannelVectors

    rng = np.random.default_rng(5)
    stored = rng.integers(0, 256, (4000, 32), dtype=np.uint8)
    distinct = stored[:60] ^ (rng.integers(0, 256, (60, 32), dtype=np.uint8) & rng.integers(0, 256, (60, 32), dtype=np.uint8)
                              & rng.integers(0, 256, (60, 32), dtype=np.uint8))  # near, not equal, to stored codes
    source = rng.integers(0, 60, 400)
    query = distinct[source]  # 400 codes, 60 distinct
    flat = ChannelVectors("hamming", 256)
    ivf = ChannelVectors.trained("hamming", 256, 16, stored, nprobe=4)
    for vec in (flat, ivf):
        vec.add(np.arange(len(stored)), stored)
        stats: dict = {}
        dist, ids = vec.search(query, 3, stats)
        assert stats["vectors"] == len(np.unique(query, axis=0)) == 60
        one_by_one = [vec.search(query[r: r + 1], 3) for r in range(len(query))]
        assert np.array_equal(ids, np.concatenate([i for _, i in one_by_one]))
        assert np.array_equal(dist, np.concatenate([d for d, _ in one_by_one]))
        assert (ids[:, 0] == source).mean() > 0.5  # and the answers are each code's own


def test_unique_keys_by_sorting_equal_numpys_unique():
    from reference_index.search.arrays import unique_sorted

    rng = np.random.default_rng(2)
    for n, high in ((0, 5), (1, 5), (1000, 7), (50_000, 10**12)):
        keys = rng.integers(0, high, n)
        assert np.array_equal(unique_sorted(keys), np.unique(keys))


def test_asking_for_every_inverted_list_finds_what_exhaustive_search_finds_even_through_groups(monkeypatch):
    """Lists found through groups of centroids: the groups compared (saved with the index) must
    widen when more lists are asked for than they hold, or a user raising nprobe for recall
    would silently get fewer lists. Every list asked for: exhaustive search's answers."""
    from reference_index.search import grouped
    from reference_index.search.vectors import ChannelVectors

    monkeypatch.setattr(grouped, "GROUPED_FROM", 256)
    monkeypatch.setattr(grouped, "GROUPS_PROBED", 1)
    rng = np.random.default_rng(11)
    stored = rng.integers(0, 256, (12_000, 32), dtype=np.uint8)
    queries = stored[:200] ^ (rng.integers(0, 256, (200, 32), dtype=np.uint8) & rng.integers(0, 256, (200, 32), dtype=np.uint8))
    flat = ChannelVectors("hamming", 256)
    ivf = ChannelVectors.trained("hamming", 256, 256, stored, nprobe=4)
    assert "groups of centroids" in ivf.describe()
    for vec in (flat, ivf):
        vec.add(np.arange(len(stored)), stored)
    ivf.nprobe = 256
    exact, _ = flat.search(queries, 3)
    found, _ = ivf.search(queries, 3)
    assert np.array_equal(found, exact)
    ivf.nprobe = 4  # fewer lists again: approximate, and no error
    assert ivf.search(queries, 3)[0].shape == (200, 3)


def test_inverted_lists_are_retrained_by_the_add_that_leaves_them_a_quarter_of_what_the_size_calls_for(tmp_path):
    """`index add` keeps inverted lists sized for the catalogue without `index optimize`: lists
    trained for 400 vectors stay while the catalogue calls for twice as many, and are retrained
    (and still find what was added) once it calls for four times as many."""
    idx = make(tmp_path / "idx")
    limits = {"ip": 100, "hamming": 10**6}  # CLIP in inverted lists from 101 vectors on
    with idx.writer() as w:
        add(w, "ep01", 400, seed=1)
        assert w.optimize(exact_max=limits, only_new_kinds=True)["clip"].startswith("rebuilt")
        assert w.vectors("clip").index.nlist == 8
        add(w, "ep02", 600, seed=2)  # 1,000 vectors call for 16 lists: kept
        assert w.optimize(exact_max=limits, only_new_kinds=True)["clip"].startswith("kept")
        assert w.vectors("clip").index.nlist == 8
        _, clip = add(w, "ep03", 5400, seed=3)  # 6,400 call for 64
        assert w.optimize(exact_max=limits, only_new_kinds=True)["clip"].startswith("rebuilt: IndexIVF")
        assert w.vectors("clip").index.nlist == 64
    with ri.ReferenceIndex.open(tmp_path / "idx") as idx:
        assert idx.vectors("clip").index.nlist == 64 and idx.vectors("clip").ntotal == 6400
        s, ids = idx.search("clip", clip[7:8], 1)
        ref = idx.frame_refs(ids.ravel())[int(ids[0, 0])]
        assert s[0, 0] == pytest.approx(1.0, abs=0.02) and (ref.ref_id, ref.t) == ("ep03", 3.5)


def test_the_manifest_names_each_structure_by_its_faiss_factory_string(footage, orb_index):
    """Exact search and inverted lists are FAISS structures: the manifest says which, as a string
    FAISS's own factory builds the same kind of index from."""
    from typer.testing import CliRunner

    from auditor.cli import app
    from reference_index.search import faiss

    manifest = json.loads((orb_index / "manifest.json").read_text())
    with ri.ReferenceIndex.open(orb_index) as idx:
        for name, spec in manifest["channels"].items():
            vec = idx.vectors(name)
            build = faiss.index_binary_factory if vec.metric == "hamming" else faiss.index_factory
            assert type(build(vec.dim, spec["factory"])).__name__ == type(vec.index).__name__, name
    assert manifest["channels"]["orb"]["factory"].startswith("BIVF")  # the footage: past 5,000 descriptors
    assert manifest["channels"]["pdq"]["factory"] == "IDMap2,BFlat"
    r = CliRunner().invoke(app, ["index", "info", "--index", str(orb_index)])
    assert "(FAISS factory 'IDMap2,BFlat')" in r.output
