"""Index structures chosen by size, `index optimize` and `index remove` keep search results right."""

import json
import shutil

import numpy as np
from typer.testing import CliRunner

from auditor.cli import app
from reference_index import ReferenceIndex
from reference_index.search.vectors import ChannelVectors, choose_structure

runner = CliRunner()


def scan_verdicts(index, clips, out):
    r = runner.invoke(app, ["scan", *map(str, clips), "--index", str(index), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    result = {}
    for clip in clips:
        ev = json.loads((out / f"{clip.stem}.evidence.json").read_text())
        result[clip.stem] = (ev["verdict"]["level"],
                             [(s["ref_id"], s["query_start"], s["query_end"]) for w in ev["works"] for s in w["segments"]])
    return result


def test_structure_follows_size():
    assert choose_structure("ip", 1000) == ("flat", 0)
    assert choose_structure("ip", 1_000_000) == ("ivf", 1024)
    assert choose_structure("ip", 10_000_000) == ("ivf", 4096)
    assert choose_structure("hamming", 10_000_000) == ("ivf", 16384)  # ORB: many codes a frame, 4x lists
    assert choose_structure("hamming", 60_000) == ("ivf", 1024)  # at most n/39 lists
    assert choose_structure("hamming", 10_000_000, local="words") == ("words", 0)
    assert choose_structure("hamming", 5_000) == ("flat", 0)  # ORB: exhaustive only while it costs little
    assert choose_structure("hamming", 40_000) == ("ivf", 1024)
    assert choose_structure("hamming", 10_000_000, one_per_frame=True) == ("mih", 0)  # PDQ
    assert choose_structure("hamming", 200_000, one_per_frame=True) == ("flat", 0)


def test_optimize_to_a_multi_index_hash_keeps_the_verdicts(footage, pdq_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(pdq_index, idx)
    clips = [footage["copy"], footage["unrelated"]]
    before = scan_verdicts(idx, clips, tmp_path / "before")
    cfg = tmp_path / "small.toml"
    cfg.write_text("[index]\nexact_max_binary = 10\nnprobe_binary = 8\n")  # 'large' from 11 vectors on
    r = runner.invoke(app, ["index", "optimize", "--index", str(idx), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "rebuilt: multi-index hash" in r.output
    with ReferenceIndex.open(idx) as ix:
        assert ix.vectors("pdq").structure == "mih"
    r = runner.invoke(app, ["index", "info", "--index", str(idx)])
    assert "multi-index hash" in r.output
    assert scan_verdicts(idx, clips, tmp_path / "after") == before
    r = runner.invoke(app, ["index", "optimize", "--index", str(idx), "--config", str(cfg)])
    assert "kept: multi-index hash" in r.output


def test_remove_a_work_from_catalogue_and_every_channel(footage, pdq_index, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(pdq_index, idx)
    with ReferenceIndex.open(idx) as ix:
        before = ix.manifest["channels"]["pdq"]["count"]
        other_frames = ix.work_frame_ids()["Moonlit Garden"]
    clips = [footage["copy"], footage["refs"]["other"]]
    assert scan_verdicts(idx, clips, tmp_path / "a")["copy"][0] == "near-identical copy"
    r = runner.invoke(app, ["index", "remove", "--index", str(idx), "--work", "Star Courier"])
    assert r.exit_code == 0, r.output
    assert "removed 'Star Courier': 2 files" in r.output
    with ReferenceIndex.open(idx) as ix:
        assert [w["work"] for w in ix.info()["works"]] == ["Moonlit Garden"]
        remaining = ix.manifest["channels"]["pdq"]["count"]
        assert 0 < remaining < before
        ids, _ = ix.vectors("pdq").all_ids_and_vectors()
        assert set(ids.tolist()) <= set(other_frames.tolist())  # no vector of the removed work is left
        assert ix.video("ep01") is None
    after = scan_verdicts(idx, clips, tmp_path / "b")
    assert after["copy"] == ("no match", [])
    assert after["other"][0] == "near-identical copy"  # the other work is still found
    r = runner.invoke(app, ["index", "remove", "--index", str(idx), "--work", "Star Courier"])
    assert r.exit_code == 2 and "no work named 'Star Courier'" in r.stderr


def test_inverted_lists_return_their_vectors_and_drop_removed_ones():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    flat = ChannelVectors("hamming", 256)
    flat.add(np.arange(5000) * 2, x)
    ivf = flat.rebuilt("ivf", 64)
    ids, vecs = ivf.all_ids_and_vectors()
    order = np.argsort(ids)
    assert np.array_equal(ids[order], np.arange(5000) * 2) and np.array_equal(vecs[order], x)
    assert ivf.remove(ranges=[(0, 100)]) == 50
    d, found = ivf.search(x[:60], 1)
    assert (found[:50, 0] != np.arange(50) * 2).all() and (found[50:60, 0] == np.arange(50, 60) * 2).all()


def test_multi_index_hash_finds_near_duplicates_like_brute_force_and_survives_files(tmp_path):
    from reference_index.search import faiss
    from reference_index.search.multihash import MultiHash

    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    ids = np.arange(20_000) * 5 + 7
    mih = MultiHash()
    mih.add_with_ids(codes, ids)
    # queries: stored codes with 0-31 bits flipped, and unrelated codes
    picks = rng.choice(20_000, 300, replace=False)
    q = codes[picks].copy()
    for row in q:
        bits = rng.choice(256, int(rng.integers(0, 32)), replace=False)
        row[bits // 8] ^= (1 << (7 - bits % 8)).astype(np.uint8)
    q = np.concatenate([q, rng.integers(0, 256, (100, 32), dtype=np.uint8)])
    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    lims, _, exact = flat.range_search(q, 32)
    truth = [set((ids[exact[lims[i]:lims[i + 1]]]).tolist()) for i in range(len(q))]
    d, found = mih.search(q, 5)
    got = [set(f[f >= 0].tolist()) for f in found]
    hits = sum(len(t & g) for t, g in zip(truth, got))
    assert hits / sum(len(t) for t in truth) >= 0.97
    assert all(g <= t for g, t in zip(got, truth))  # never a code beyond the radius
    assert (d[found >= 0] <= 31).all()
    mih.save(tmp_path / "pdq.mih")
    back = ChannelVectors.load(tmp_path / "pdq.mih", "hamming", 256, mmap=True)
    assert back.structure == "mih" and np.array_equal(back.search(q, 5)[1], found)
    assert back.remove(ranges=[(0, 1000)]) == 199  # ids 7, 12, ..., 997
    assert back.ntotal == 20_000 - 199


def test_index_add_says_which_structure_it_builds_before_building_it(footage, tmp_path):
    """Training inverted lists takes minutes at millions of vectors: `index add` says what it is
    about to build (and from what) before the pause, then what it built."""
    cfg = tmp_path / "small.toml"
    cfg.write_text("[index]\nexact_max_local = 1000\n")  # ORB in inverted lists from 1,001 descriptors on
    r = runner.invoke(app, ["index", "add", str(footage["refs"]["ep01"]), "--index", str(tmp_path / "idx"),
                            "--work", "Star Courier", "--owner", "Demo Studio", "--channels", "pdq,orb", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    building = [i for i, line in enumerate(lines) if line.startswith("index structure: orb: building ")]
    built = [i for i, line in enumerate(lines) if line.startswith("index structure: orb: rebuilt: IndexBinaryIVF")]
    assert len(building) == 1 and len(built) == 1 and building[0] < built[0], r.output
    assert "inverted lists for" in lines[building[0]]
    assert "(was: IndexBinaryIDMap2(IndexBinaryFlat), exact search)" in lines[building[0]]
