"""A sharded index gives the unsharded index's evidence, in this process and on Ray actors.

The index is built from generated footage with pdq and orb, ORB forced into inverted lists (a
low `index.exact_max_local`) so that splitting inverted lists is what is tested; it is
calibrated, so p-values (whose number of trials counts the whole catalogue) are compared too.
A shard changed after sharding, or a top manifest edited, is refused, naming the file."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.indexing.calibrate import calibrate
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.scan.batch import run_batch
from auditor.scan.engines import OnRay
from reference_index import IndexCorrupt, IndexIsSharded, ReferenceIndex, ShardRefused
from reference_index.search import grouped, knn
from reference_index.search.vectors import ChannelVectors
from reference_index.store.sharded import ShardBackend, ShardedIndex
from reference_index.store.shards import plan, shard_index

runner = CliRunner()
IVF_ORB = {"index": {"exact_max_local": 2000}}


@pytest.fixture(scope="module")
def indexed(footage, tmp_path_factory):
    """An index of three videos of two works (ORB in inverted lists, calibrated), and it in 2 shards."""
    d = tmp_path_factory.mktemp("shards")
    cfg = load_config(overrides=IVF_ORB)
    items = [
        CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio", episode="1"),
        CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures"),
        CatalogueItem(footage["refs"]["ep02"], "Star Courier", "Demo Studio", episode="2"),
    ]
    with pytest.MonkeyPatch.context() as mp:  # lists found through groups of centroids, as in large indexes
        mp.setattr(grouped, "GROUPED_FROM", 64)
        mp.setattr(grouped, "GROUPS_PROBED", 2)
        report = add_items(d / "idx", items, cfg, ["pdq", "orb"])
    assert not report.failed, report.failed
    calibrate(d / "idx", cfg, frames_per_work=12, seed=5)
    result = runner.invoke(app, ["index", "shard", "--index", str(d / "idx"), "--shards", "2", "--out", str(d / "sharded")])
    assert result.exit_code == 0, result.output
    assert "2 shards by work" in result.stdout and "shard-001" in result.stdout
    return {"dir": d, "idx": d / "idx", "sharded": d / "sharded", "config": cfg}


def comparable(path) -> dict:
    """An evidence file without when and how it ran, and without the index's own identity."""
    ev = json.loads(path.read_text())
    for key in ("created_utc", "runtime"):
        ev.pop(key)
    index = ev.pop("index")
    return {"evidence": ev, "counts": index["counts"], "channels": index["channels"], "generation": index["generation"]}


def test_a_shard_is_an_ordinary_index_of_whole_works_with_the_original_frame_ids(indexed):
    with ReferenceIndex.open(indexed["idx"]) as whole, ShardedIndex.open(indexed["sharded"]) as sharded:
        assert sharded.counts() == whole.counts() and sharded.calibration() == whole.calibration()
        assert sharded.works() == whole.works()
        ids = np.arange(1, whole.counts()["frames"] + 1)
        assert sharded.frame_refs(ids) == whole.frame_refs(ids)
        assert sharded.search_settings() == whole.search_settings()
        assert whole.search_settings()["orb"]["structure"] == "ivf"
        works = [{w["work"] for w in s.works()} for s in sharded.shards]
        assert works == [{"Star Courier"}, {"Moonlit Garden"}]  # a work's videos together
        assert "groups of centroids" in whole.vectors("orb").describe()
        for s in sharded.shards:  # each shard keeps the source's centroids and groups: the same lists probed
            assert s.vectors("orb").describe() == whole.vectors("orb").describe()
            assert np.array_equal(s.vectors("orb").centroids(), whole.vectors("orb").centroids())


def test_sharded_evidence_equals_the_unsharded_index_in_process_and_on_ray(indexed, footage, cropped_copy, tmp_path):
    cfg = indexed["config"]
    clips = [footage["copy"], footage["unrelated"], cropped_copy]
    one = run_batch(clips, indexed["idx"], tmp_path / "one", cfg)
    local = run_batch(clips, indexed["sharded"], tmp_path / "local", cfg)
    ray_run = run_batch(clips, indexed["sharded"], tmp_path / "ray", cfg, OnRay(2, shard_cpus=2))
    assert not one.failed and not local.failed and not ray_run.failed
    for clip in clips:
        name = f"{clip.stem}.evidence.json"
        assert comparable(tmp_path / "one" / name) == comparable(tmp_path / "local" / name), clip.stem
        assert comparable(tmp_path / "one" / name) == comparable(tmp_path / "ray" / name), clip.stem
        pictures = [sorted(p.name for p in (tmp_path / run / f"{clip.stem}.frames").glob("*.jpg")) for run in ("one", "ray")]
        assert pictures[0] == pictures[1]
    copy = json.loads((tmp_path / "ray" / "copy.evidence.json").read_text())
    assert copy["verdict"]["flagged"] and copy["calibration"]["calibrated"]
    assert copy["index"]["shards"]["shards"] == 2 and copy["index"]["channels"]["orb"]["structure"] == "ivf"
    assert copy["runtime"]["shards_served_by"] == "2 Ray actors, one a shard, 2 CPUs each"
    assert json.loads((tmp_path / "local" / "copy.evidence.json").read_text())["runtime"]["shards_served_by"] == "this process"
    unsharded = json.loads((tmp_path / "one" / "copy.evidence.json").read_text())
    assert unsharded["index"]["shards"] is None and unsharded["runtime"]["shards_served_by"] is None
    # the report says the clip was searched through shards, and of which index
    from auditor.report.pdf import render_report

    pdf = render_report(tmp_path / "ray" / "copy.evidence.json", tmp_path / "copy.pdf")
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout.decode().split())
    assert f"2 shards, split by work, of index {copy['index']['shards']['source_id']}" in text
    crop = json.loads((tmp_path / "one" / "crop.evidence.json").read_text())
    assert any(f["top"].get("orb") for f in crop["frames"])  # ORB's candidates were compared, not only PDQ's


def test_merged_neighbours_equal_one_index_under_many_ties():
    """Codes repeated many times: FAISS's own order of tied neighbours depends on where it meets
    them; in canonical order, two shards' merged answers are the unsharded index's."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (30, 32), dtype=np.uint8)
    codes = base[rng.integers(0, 30, 6000)]
    ids = np.arange(6000, dtype=np.int64) + 1
    whole = ChannelVectors("hamming", 256)
    whole.add(ids, codes)
    for vec in (whole, whole.rebuilt("ivf", 32)):
        parts = [vec.subset(lambda i, r=r: i % 2 == r) for r in (0, 1)]
        q = base[:20] ^ np.uint8(1)
        for k in (1, 3, 12):
            s, i = knn.canonical(vec.search, q, k, vec.ntotal, False)
            merged = knn.merge([knn.canonical(p.search, q, k, p.ntotal, False) for p in parts], k, False)
            assert np.array_equal(i, merged[1]) and np.array_equal(s, merged[0])
            assert (np.diff(i, axis=1) > 0).all()  # all tied: lowest ids first


def test_plan_keeps_works_together_and_cuts_only_a_work_too_large():
    videos = [(1, "A", 10), (2, "A", 10), (3, "B", 10), (4, "C", 10), (5, "C", 10), (6, "C", 100)]
    shards = plan(videos, 2)
    assert sorted(v for s in shards for v in s) == [1, 2, 3, 4, 5, 6]
    assert any(set(s) == {1, 2, 3} or {1, 2} <= set(s) for s in shards)  # A together
    assert plan(videos, 3, by="video") == [[1, 2, 3, 4, 5], [6]] or all(plan(videos, 3, by="video"))
    assert [v for s in plan(videos, 3, by="video") for v in s] == [1, 2, 3, 4, 5, 6]  # runs of consecutive ids
    assert all(plan(videos, 6))  # as many shards as videos: one each
    for n, by in ((1, "work"), (7, "work"), (2, "episode")):
        with pytest.raises(ShardRefused):
            plan(videos, n, by)


def test_refusals_name_the_file(indexed, footage, tmp_path):
    sharded = tmp_path / "sharded"
    shutil.copytree(indexed["sharded"], sharded)
    # another sharding of the same index: the same content, but not the shard this manifest names
    shard_index(indexed["idx"], tmp_path / "again", 2)
    shutil.rmtree(sharded / "shard-002")
    shutil.copytree(tmp_path / "again" / "shard-002", sharded / "shard-002")
    with pytest.raises(IndexCorrupt, match=r"shard-002/manifest.json: its SHA-256 differs"):
        ShardedIndex.open(sharded)
    result = runner.invoke(app, ["scan", str(footage["copy"]), "--index", str(sharded), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "shard-002/manifest.json" in result.stderr and len(result.stderr.splitlines()) == 1

    damaged = tmp_path / "damaged"
    shutil.copytree(indexed["sharded"], damaged)
    orb = next((damaged / "shard-001").glob("gen-*/orb.faissbin"))
    data = bytearray(orb.read_bytes())
    data[-5] ^= 0xFF
    orb.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=r"shard-001/gen-000001/orb.faissbin: its SHA-256 differs"):
        ShardedIndex.open(damaged)

    for edit, message in ((lambda m: m["shards"][0].update(path="../idx"), r"shards\[0\].path"),
                          (lambda m: m["counts"].update(frames=m["counts"]["frames"] + 1), "counts.frames"),
                          (lambda m: m["shards"][1]["counts"].update(videos=9), "counts")):
        edited = tmp_path / f"edited-{len(message)}"
        shutil.copytree(indexed["sharded"], edited)
        top = json.loads((edited / "manifest.json").read_text())
        edit(top)
        (edited / "manifest.json").write_text(json.dumps(top))
        with pytest.raises(IndexCorrupt, match=message):
            ShardedIndex.open(edited)
    result = runner.invoke(app, ["index", "info", "--index", str(damaged), "--verify"])
    assert result.exit_code == 2 and "orb.faissbin" in result.stdout


def test_a_sharded_index_is_read_only_and_sharding_asks_sensible_questions(indexed, footage, tmp_path):
    with pytest.raises(IndexIsSharded):
        ReferenceIndex.open(indexed["sharded"])
    for args, words in ((["index", "add", str(footage["refs"]["ep02"]), "--index", str(indexed["sharded"]),
                          "--work", "W", "--owner", "O"], "read-only"),
                        (["index", "shard", "--index", str(indexed["idx"]), "--shards", "1", "--out", str(tmp_path / "a")],
                         "at least 2"),
                        (["index", "shard", "--index", str(indexed["idx"]), "--shards", "4", "--out", str(tmp_path / "b")],
                         "3 videos"),
                        (["index", "shard", "--index", str(indexed["idx"]), "--shards", "2", "--out", str(indexed["sharded"])],
                         "already exists")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and words in result.stderr, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    info = runner.invoke(app, ["index", "info", "--index", str(indexed["sharded"])])
    assert info.exit_code == 0 and "sharded    2 shards by work" in info.stdout and info.stdout.count("shard      ") == 2


def test_visual_words_shards_keep_the_vocabulary_and_say_their_candidates_may_differ(footage, tmp_path):
    """Visual words' short lists weigh words by counts over the frames a shard holds: sharded
    candidates are not promised equal, and the evidence says so; the vocabulary is the same. Each
    shard keeps its own competition, and Ray actors serving the shards give the evidence this
    process gives (each query descriptor held under its nearest competitor in any shard)."""
    cfg = load_config(overrides={"index": {"exact_max_local": 2000, "local_structure": "words"}})
    items = [CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio"),
             CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures")]
    assert not add_items(tmp_path / "idx", items, cfg, ["pdq", "orb"]).failed
    shard_index(tmp_path / "idx", tmp_path / "sharded", 2)
    with ReferenceIndex.open(tmp_path / "idx") as whole, ShardedIndex.open(tmp_path / "sharded") as sharded:
        vocab = whole.vectors("orb").index.vocabulary.id
        assert [s.vectors("orb").index.vocabulary.id for s in sharded.shards] == [vocab, vocab]
        assert all(s.vectors("orb").nearest_competitors(np.zeros((1, 32), np.uint8)) is not None for s in sharded.shards)
        assert sharded.search_settings()["orb"]["description"].startswith(whole.search_settings()["orb"]["description"])
    report = run_batch([footage["copy"]], tmp_path / "sharded", tmp_path / "out", cfg)
    ev = json.loads((tmp_path / "out" / "copy.evidence.json").read_text())
    assert not report.failed and "each shard short-lists its own frames" in ev["index"]["channels"]["orb"]["description"]
    assert ev["verdict"]["flagged"] and ev["works"][0]["work"] == "Star Courier"
    assert "its own sample of competitors" in ev["index"]["channels"]["orb"]["description"]
    on_ray = run_batch([footage["copy"]], tmp_path / "sharded", tmp_path / "ray", cfg, OnRay(1, shard_cpus=1))
    assert not on_ray.failed
    assert comparable(tmp_path / "ray" / "copy.evidence.json") == comparable(tmp_path / "out" / "copy.evidence.json")
    runtime = json.loads((tmp_path / "ray" / "copy.evidence.json").read_text())["runtime"]
    assert runtime["shards_served_by"].startswith("2 Ray actors")


def test_a_clip_scanner_asking_shards_through_relays_gets_the_same_evidence(indexed, footage, cropped_copy, tmp_path):
    """With more shards than `search.shards_per_relay`, a clip scanner asks relay actors, each of
    which asks a group of shard actors: the evidence is the one this process gives. Visual words,
    whose step 2 sends each shard its own frames, so a relay must hand each shard its own."""
    relayed = load_config(overrides={"index": {"exact_max_local": 2000, "local_structure": "words"},
                                     "search": {"shards_per_relay": 2}})
    items = [CatalogueItem(footage["refs"][ref], work, owner) for ref, work, owner in (
        ("ep01", "Star Courier", "Demo Studio"), ("other", "Moonlit Garden", "Example Pictures"),
        ("ep02", "Star Courier", "Demo Studio"))]
    assert not add_items(tmp_path / "idx", items, relayed, ["pdq", "orb"]).failed
    shard_index(tmp_path / "idx", tmp_path / "three", 3)
    clips = [footage["copy"], cropped_copy]
    here = run_batch(clips, tmp_path / "three", tmp_path / "here", relayed)
    on_ray = run_batch(clips, tmp_path / "three", tmp_path / "ray", relayed, OnRay(1))
    assert not here.failed and not on_ray.failed
    for clip in clips:
        name = f"{clip.stem}.evidence.json"
        assert comparable(tmp_path / "here" / name) == comparable(tmp_path / "ray" / name), clip.stem
    copy = json.loads((tmp_path / "ray" / "copy.evidence.json").read_text())
    assert copy["verdict"]["flagged"] and copy["index"]["shards"]["shards"] == 3
    assert copy["runtime"]["shards_served_by"] == "3 Ray actors, one a shard, asked through 1 relay"


def test_a_shards_error_reaches_the_clip_scanner_through_relays_as_itself():
    """A shard's own error (a damaged file) is what the scanner gets, relays or not."""
    import ray

    from auditor.scan.shard_actors import RayShards

    class DamagedShard:  # defined here: Ray sends it to its workers by value
        """Shard 3's file turned out damaged: its searches raise, naming it."""

        def __init__(self, i: int):
            self.i = i

        def search(self, *args):
            if self.i == 2:
                raise IndexCorrupt(f"shard-00{self.i + 1}/orb.faissbin: does not match its checksum")
            return self.i

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actors = [ray.remote(num_cpus=0)(DamagedShard).remote(i) for i in range(3)]
        for fan in (RayShards(actors), RayShards(actors, per_relay=2)):
            with pytest.raises(IndexCorrupt, match="shard-003/orb.faissbin: does not match its checksum"):
                fan("search", [()] * 3)
        assert RayShards(actors[:2], per_relay=2)("search", [()] * 2) == [0, 1]
    finally:
        ray.shutdown()


class _Remote:
    def __init__(self, fn):
        self.remote = fn


class _FakeShard:
    """Stands for a shard actor: answers with what it was asked, and who it is."""

    def __init__(self, i: int, asked: list):
        self.search = _Remote(lambda *args: (i, args))
        asked.append(self)


@pytest.mark.parametrize("shards, per_relay, relays, top", [(10, 3, 6, 2), (400, 32, 13, 13), (33, 32, 2, 2), (32, 32, 0, 32),
                                                            (5, 0, 0, 5)])
def test_relays_hand_every_shard_its_own_arguments_and_answers_come_back_in_shard_order(monkeypatch, shards, per_relay,
                                                                                          relays, top):
    """The relay tree (without Ray): no caller asks more than `per_relay` actors, a group of one
    needs no relay, and shard i gets args[i] and answers in place i, through any depth of relays."""
    import ray

    from auditor.scan import shard_actors

    made = []

    class FakeRelay:
        def __init__(self, nodes):
            assert 2 <= len(nodes) <= per_relay
            made.append(nodes)
            self.call = _Remote(lambda method, args: shard_actors._fan(nodes, method, args))

    monkeypatch.setattr(shard_actors, "_relay_actor", FakeRelay)
    monkeypatch.setattr(ray, "get", lambda calls: list(calls))
    asked: list = []
    fan = shard_actors.RayShards([_FakeShard(i, asked) for i in range(shards)], per_relay=per_relay)
    assert len(made) == relays and len(fan.nodes) == top
    assert fan.describe.endswith(f"asked through {relays} relay" + "s" * (relays > 1)) if relays else "relay" not in fan.describe
    small = np.arange(3)
    answers = fan("search", [("orb", small, i) for i in range(shards)])
    assert [i for i, _ in answers] == list(range(shards))
    assert all(args[0] == "orb" and args[2] == i and args[1] is small for i, args in answers)


def test_rows_without_any_neighbour_stay_empty_in_canonical_order():
    """A multi-index hash returns no neighbour beyond its radius: every id -1."""
    scores, ids = knn.best_k(np.zeros((2, 4), np.int32), np.full((2, 4), -1, np.int64), 3, False)
    assert (ids == -1).all() and (scores == 0).all()


def test_a_shard_backend_searches_with_the_threads_it_is_given(indexed):
    """A shard actor given N CPUs searches with N FAISS threads (Ray alone would give it one)."""
    from reference_index.search import faiss

    before = faiss.omp_get_max_threads()
    backend = ShardBackend(indexed["sharded"] / "shard-001", threads=3)
    try:
        assert backend.stats()["threads"] == 3
    finally:
        backend.index.close()
        faiss.omp_set_num_threads(before)
