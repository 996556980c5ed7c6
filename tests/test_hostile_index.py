"""A tampered or damaged index is refused before use, with one line naming the file or the key
(exit 2), by readers (scan, info) and writers (add, remove, optimize, calibrate) alike; checksums
are remembered by file identity, so opening a large index does not read it whole every time."""

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

import reference_index as ri
from auditor.cli import app
from auditor.config import load_config
from auditor.indexing.ingest import CatalogueItem, add_items
from reference_index.store import verified

runner = CliRunner()


@pytest.fixture(scope="module")
def two_indexes(footage, tmp_path_factory):
    """Two pdq indexes of different works whose pdq files have the same size (8 s each)."""
    cfg = load_config(overrides={"channels": {"default": ["pdq"]}})
    out = {}
    for name, ref, work in (("a", "ep02", "Star Courier"), ("b", "other", "Moonlit Garden")):
        idx = tmp_path_factory.mktemp(f"hostile_{name}") / "idx"
        report = add_items(idx, [CatalogueItem(footage["refs"][ref], work, "Studio")], cfg, ["pdq"])
        assert not report.failed, report.failed
        out[name] = idx
    return out


def gen_of(idx):
    manifest = json.loads((idx / "manifest.json").read_text())
    return idx / f"gen-{manifest['generation']:06d}", manifest


def scan(clip, idx, out):
    return runner.invoke(app, ["scan", str(clip), "--index", str(idx), "--out", str(out), "--quiet"])


def add(clip, idx):
    return runner.invoke(app, ["index", "add", str(clip), "--index", str(idx), "--work", "New", "--owner", "O"])


def one_line_refusal(r, *words):
    """Exit 2, one line on stderr holding `words`, no traceback."""
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2, (r.exit_code, r.stderr, r.output)
    assert len(lines) == 1 and lines[0].startswith("auditor: error: "), r.stderr
    assert "Traceback" not in r.output
    for w in words:
        assert w in lines[0], (w, lines[0])


def unchanged(idx, before):
    """The index is as it was: same manifest, no generation folder left behind."""
    assert (idx / "manifest.json").read_bytes() == before
    assert [p.name for p in idx.glob("gen-*")] == [gen_of(idx)[0].name]


def test_a_channel_file_from_another_index_is_refused_by_scan_and_by_every_writer(two_indexes, footage, tmp_path, monkeypatch):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    gen, manifest = gen_of(idx)
    target = gen / manifest["channels"]["pdq"]["file"]
    other = gen_of(two_indexes["b"])[0] / manifest["channels"]["pdq"]["file"]
    assert target.stat().st_size == other.stat().st_size and target.read_bytes() != other.read_bytes()
    monkeypatch.setattr(verified, "RACY_S", 0.0)
    ri.ReferenceIndex.open(idx).close()  # verified and remembered: the cache must not vouch for what replaces it
    shutil.copyfile(other, target)  # same size, another index's vectors
    before = (idx / "manifest.json").read_bytes()

    r = scan(footage["copy"], idx, tmp_path / "out")
    one_line_refusal(r, str(target), "SHA-256")
    assert not list((tmp_path / "out").glob("*.evidence.json"))
    one_line_refusal(add(footage["unrelated"], idx), str(target), "SHA-256")
    for args in (["index", "remove", "--index", str(idx), "--work", "Star Courier"],
                 ["index", "optimize", "--index", str(idx)],
                 ["index", "calibrate", "--index", str(idx)]):
        one_line_refusal(runner.invoke(app, args), str(target))
    unchanged(idx, before)  # no checksum was rewritten over the tampered file
    r = runner.invoke(app, ["index", "info", "--index", str(idx), "--verify"])
    assert r.exit_code == 2 and "PROBLEMS" in r.output and str(target) in r.output
    with pytest.raises(ri.IndexCorrupt, match="SHA-256"):
        ri.IndexWriter(idx).__enter__()
    unchanged(idx, before)


@pytest.mark.parametrize("key, value, words", [
    (("catalogue", "counts", "videos"), 50, ["catalogue.counts.videos is 50", "holds 1"]),
    (("catalogue", "counts", "frames"), 17, ["catalogue.counts.frames is 17", "holds 16"]),
    (("channels", "pdq", "count"), 2, ["channels.pdq.count is 2", "pdq.faissbin"]),
])
def test_edited_counts_are_refused_naming_the_count(two_indexes, footage, tmp_path, key, value, words):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    m = json.loads((idx / "manifest.json").read_text())
    m[key[0]][key[1]][key[2]] = value
    (idx / "manifest.json").write_text(json.dumps(m))
    before = (idx / "manifest.json").read_bytes()
    one_line_refusal(scan(footage["copy"], idx, tmp_path / "out"), "manifest.json", *words)
    one_line_refusal(add(footage["unrelated"], idx), "manifest.json", *words)
    unchanged(idx, before)
    r = runner.invoke(app, ["index", "info", "--index", str(idx), "--verify"])
    assert r.exit_code == 2 and words[0] in r.output


def _edit(path, change):
    m = json.loads(path.read_text())
    path.write_text(json.dumps(change(m)))


def _set(m, keys, value):
    at = m
    for k in keys[:-1]:
        at = at[k]
    at[keys[-1]] = value
    return m


WRONG_SHAPES = {
    "a JSON array": (lambda m: [m], ["a JSON list"]),
    "without channels": (lambda m: {k: v for k, v in m.items() if k != "channels"}, ["channels: missing"]),
    "channels a list": (lambda m: _set(m, ["channels"], [m["channels"]]), ["channels: a list"]),
    "no channel": (lambda m: _set(m, ["channels"], {}), ["channels: empty"]),
    "negative count": (lambda m: _set(m, ["channels", "pdq", "count"], -3), ["channels.pdq.count: -3"]),
    "count a boolean": (lambda m: _set(m, ["catalogue", "counts", "works"], True), ["catalogue.counts.works: True"]),
    "generation a string": (lambda m: _set(m, ["generation"], "2"), ["generation: '2'"]),
    "unknown metric": (lambda m: _set(m, ["channels", "pdq", "metric"], "cosine"), ["channels.pdq.metric: 'cosine'"]),
    "unknown structure": (lambda m: _set(m, ["channels", "pdq", "kind"], "hnsw"), ["channels.pdq.kind: 'hnsw'"]),
    "a file outside its generation": (lambda m: _set(m, ["catalogue", "file"], "../../etc/passwd"), ["catalogue.file"]),
    "two entries one file": (lambda m: _set(m, ["channels", "pdq", "file"], "catalogue.sqlite"), ["is also the file of"]),
    "a checksum that is not one": (lambda m: _set(m, ["channels", "pdq", "sha256"], "x" * 64), ["channels.pdq.sha256"]),
    "no counts": (lambda m: _set(m, ["catalogue"], {k: v for k, v in m["catalogue"].items() if k != "counts"}),
                  ["catalogue.counts: missing"]),
    "a fingerprint without id": (lambda m: _set(m, ["channels", "pdq", "fingerprint"], {}), ["fingerprint.id: missing"]),
}


@pytest.mark.parametrize("case", sorted(WRONG_SHAPES))
def test_a_manifest_of_the_wrong_shape_is_one_line_and_exit_2(two_indexes, footage, tmp_path, case):
    change, words = WRONG_SHAPES[case]
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    _edit(idx / "manifest.json", change)
    one_line_refusal(scan(footage["copy"], idx, tmp_path / "out"), "manifest.json", *words)
    one_line_refusal(add(footage["unrelated"], idx), "manifest.json", *words)
    one_line_refusal(runner.invoke(app, ["index", "remove", "--index", str(idx), "--work", "Star Courier"]), "manifest.json")
    one_line_refusal(runner.invoke(app, ["index", "info", "--index", str(idx), "--verify"]), "manifest.json")


def test_a_same_size_corrupted_catalogue_is_refused(two_indexes, footage, tmp_path):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    gen, manifest = gen_of(idx)
    cat = gen / manifest["catalogue"]["file"]
    data = bytearray(cat.read_bytes())
    data[:16] = b"not a database!!"  # the SQLite header: same size, unreadable
    cat.write_bytes(bytes(data))
    before = (idx / "manifest.json").read_bytes()
    one_line_refusal(scan(footage["copy"], idx, tmp_path / "out"), str(cat), "SHA-256")
    one_line_refusal(add(footage["unrelated"], idx), str(cat), "SHA-256")
    one_line_refusal(runner.invoke(app, ["index", "info", "--index", str(idx)]), str(cat))
    r = runner.invoke(app, ["index", "info", "--index", str(idx), "--verify"])
    assert r.exit_code == 2 and str(cat) in r.output and "Traceback" not in r.output
    unchanged(idx, before)
    # the same damage with the manifest's checksum edited to match: still refused, in one line
    _edit(idx / "manifest.json", lambda m: _set(m, ["catalogue", "sha256"], __import__("hashlib").sha256(data).hexdigest()))
    one_line_refusal(scan(footage["copy"], idx, tmp_path / "out"), str(cat), "not a readable catalogue")
    one_line_refusal(add(footage["unrelated"], idx), str(cat), "not a readable catalogue")


def test_a_lock_that_is_a_folder_or_a_link_is_one_line(two_indexes, footage, tmp_path):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    (idx / ".lock").unlink(missing_ok=True)
    (idx / ".lock").mkdir()
    before = (idx / "manifest.json").read_bytes()
    for r in (add(footage["unrelated"], idx),
              runner.invoke(app, ["index", "remove", "--index", str(idx), "--work", "Star Courier"]),
              runner.invoke(app, ["index", "optimize", "--index", str(idx)])):
        one_line_refusal(r, ".lock", "is a folder")
    unchanged(idx, before)
    assert scan(footage["copy"], idx, tmp_path / "out").exit_code == 0  # readers take no lock
    (idx / ".lock").rmdir()
    (idx / ".lock").symlink_to(tmp_path / "elsewhere")
    one_line_refusal(add(footage["unrelated"], idx), ".lock", "symbolic link")
    assert not (tmp_path / "elsewhere").exists()  # the link was not followed to make a file


def test_a_file_replaced_while_the_index_is_open_is_refused(two_indexes, tmp_path):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    gen, manifest = gen_of(idx)
    name = next(iter(manifest["channels"]))
    with ri.ReferenceIndex.open(idx) as reader:  # verified; the vectors are loaded on first use
        target = gen / manifest["channels"][name]["file"]
        shutil.copyfile(gen_of(two_indexes["b"])[0] / target.name, target)
        with pytest.raises(ri.IndexCorrupt, match="changed since the index was opened"):
            reader.vectors(name)


@pytest.fixture
def counted_hashes(monkeypatch):
    """Count files read in full by the verifier; forget what this process wrote itself."""
    calls = []
    real = verified.sha256_file
    monkeypatch.setattr(verified, "sha256_file", lambda p, *a: calls.append(os.path.basename(p)) or real(p, *a))
    monkeypatch.setattr(verified, "_written", {})
    return calls


def test_verified_checksums_are_remembered_by_file_identity(two_indexes, tmp_path, monkeypatch, counted_hashes):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    gen, manifest = gen_of(idx)
    files = sorted(e["file"] for e in [manifest["catalogue"], *manifest["channels"].values()])
    monkeypatch.setattr(verified, "RACY_S", 0.0)  # the copies are brand new: accept them at once
    ri.ReferenceIndex.open(idx).close()
    assert sorted(counted_hashes) == files  # first open: every file read
    counted_hashes.clear()
    ri.ReferenceIndex.open(idx).close()
    assert counted_hashes == []  # second open: identities unchanged, nothing read again
    target = gen / manifest["channels"][next(iter(manifest["channels"]))]["file"]
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched: same bytes, new identity
    ri.ReferenceIndex.open(idx).close()
    assert counted_hashes == [target.name]
    counted_hashes.clear()
    with ri.ReferenceIndex.open(idx, verify=False) as reader:  # index info --verify: never from the cache
        assert reader.check_integrity() == []
    assert sorted(counted_hashes) == files


def test_files_changed_moments_ago_and_a_broken_cache_are_not_trusted(two_indexes, tmp_path, counted_hashes,
                                                                      verified_files_cache):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    ri.ReferenceIndex.open(idx).close()
    ri.ReferenceIndex.open(idx).close()
    # just copied: a change in the same timestamp tick could hide behind the same identity
    assert len(counted_hashes) == 2 * len(set(counted_hashes))
    cache = verified_files_cache / verified.CACHE_FILE
    for junk in ("{not json", "[]", json.dumps({"format": verified.FORMAT, "entries": {"1:2:3:4:5": 7}})):
        cache.write_text(junk)
        ri.ReferenceIndex.open(idx).close()  # a broken cache is ignored, never a refusal
    cache.unlink()


def test_a_writer_checkpoint_reads_its_own_files_once(two_indexes, tmp_path, counted_hashes):
    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    with ri.IndexWriter(idx) as w:
        counted_hashes.clear()
        w.checkpoint()  # commits (hashing what it wrote), then verifies that generation to build on it
        assert counted_hashes == []  # what the commit hashed moments ago is not read again
    assert gen_of(idx)[1]["generation"] == 4


def test_a_checkpoint_that_cannot_begin_again_keeps_what_it_committed(two_indexes, tmp_path, monkeypatch):
    from reference_index.store import integrity

    idx = shutil.copytree(two_indexes["a"], tmp_path / "idx")
    real, calls = integrity.verify_files, []

    def refuse_the_second(*a):
        calls.append(1)
        if len(calls) == 2:
            raise ri.IndexCorrupt("refused for the test")
        return real(*a)

    monkeypatch.setattr(integrity, "verify_files", refuse_the_second)
    with pytest.raises(ri.IndexCorrupt, match="refused for the test"):
        with ri.IndexWriter(idx) as w:
            w.remove_work("Star Courier")
            w.checkpoint()  # commits the removal, then fails to begin the next generation
    monkeypatch.undo()
    with ri.ReferenceIndex.open(idx) as reader:  # the committed generation was not discarded
        assert reader.counts()["works"] == 0 and reader.generation == gen_of(two_indexes["a"])[1]["generation"] + 1


def test_the_second_of_two_first_adds_at_once_adds_to_the_index_the_first_created(footage, tmp_path, monkeypatch):
    """The loser of the race looked before the winner created the index, and creates after: it
    waits for the winner's lock and adds to the index it finds, not 'an index already exists'."""
    import auditor.indexing.ingest as ingest

    cfg = load_config(overrides={"channels": {"default": ["pdq"]}})
    idx = tmp_path / "idx"
    add_items(idx, [CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Studio")], cfg, ["pdq"])  # the winner
    looked = []

    def exists_before_the_winner(path):
        looked.append(path)
        return len(looked) > 1  # the first look saw no index yet
    monkeypatch.setattr(ingest.reference_index, "exists", exists_before_the_winner)
    report = add_items(idx, [CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Studio")], cfg, ["pdq"])
    assert not report.failed and len(looked) >= 2
    monkeypatch.undo()
    assert {v["ref_id"] for v in ri.ReferenceIndex.open(idx).videos()} == {"ep01", "other"}


def test_creating_an_index_waits_for_another_process_creating_it(tmp_path):
    import threading
    import time

    from reference_index.store.manifest import writer_lock

    idx = tmp_path / "idx"
    idx.mkdir()
    held = threading.Event()

    def creator():  # another process in the middle of creating it
        with writer_lock(idx):
            held.set()
            time.sleep(0.5)
    t = threading.Thread(target=creator)
    t.start()
    held.wait(5)
    spec = {"pdq": {"metric": "hamming", "dim": 256, "fingerprint": {"id": "x"}}}
    ri.create_index(idx, spec)  # not IndexLocked: waited
    t.join()
    assert ri.exists(idx)


def test_a_channel_removed_from_the_manifest_is_refused_and_its_file_named(orb_index, footage, tmp_path):
    idx = shutil.copytree(orb_index, tmp_path / "idx")
    gen, m = gen_of(idx)
    orphan = gen / m["channels"]["orb"]["file"]
    del m["channels"]["orb"]
    (idx / "manifest.json").write_text(json.dumps(m))
    one_line_refusal(scan(footage["copy"], idx, tmp_path / "out"), str(orphan), "does not name")
    r = runner.invoke(app, ["index", "info", "--index", str(idx), "--verify"])
    assert r.exit_code == 2 and orphan.name in r.output + r.stderr
