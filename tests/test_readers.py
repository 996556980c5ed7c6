"""Readers keep what they read: a scan, a Ray actor or a calibration that opened generation N
keeps reading N while `index add` commits again and again; old generations go once no reader
holds them (also when the reader was killed)."""

import signal
import subprocess
import sys
import textwrap

import numpy as np
from helpers import write_copy, write_scene

import reference_index as ri
from auditor.scan.scanner import Scanner


def generations(path) -> list[str]:
    return sorted(p.name for p in path.glob("gen-*"))


def copy_index(src, dst):
    """A copy of the session's index without its readers' leases: other tests' readers (a worker
    killed while taking its lease leaves a young unlocked temporary lease, which counts as held
    for an hour) are not this copy's readers."""
    import shutil

    return shutil.copytree(src, dst, ignore=shutil.ignore_patterns("readers"))


def add_one(path, ref_id: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with ri.IndexWriter(path) as w:
        w.add_video(work=f"W{seed}", owner="O", ref_id=ref_id,
                    info={"path": f"{ref_id}.mp4", "sha256": ref_id, "kind": "video", "duration_s": 1, "fps": 1,
                          "width": 1, "height": 1},
                    times=np.arange(3.0), vectors={"pdq": (np.arange(3), rng.integers(0, 255, (3, 32), dtype=np.uint8))})


def test_a_reader_keeps_its_generation_through_commits_and_lets_go_when_closed(pdq_index, tmp_path):
    idx_path = copy_index(pdq_index, tmp_path / "idx")
    reader = ri.ReferenceIndex.open(idx_path)
    first = reader.generation
    for i in range(3):
        add_one(idx_path, f"new{i}", i)
    # three commits later the reader still searches its own generation, vectors loaded only now
    scores, ids = reader.search("pdq", np.zeros((1, 32), np.uint8), 3)
    assert (ids >= 0).all() and reader.video("new0") is None
    assert f"gen-{first:06d}" in generations(idx_path)
    reader.close()
    add_one(idx_path, "new3", 3)
    assert generations(idx_path) == [f"gen-{first + 4:06d}"]  # nobody holds the old ones any more


def test_a_killed_readers_generation_is_collected(pdq_index, tmp_path):
    idx_path = copy_index(pdq_index, tmp_path / "idx")
    script = (f"import reference_index as ri, time; r = ri.ReferenceIndex.open({str(idx_path)!r}); "
              "print('open', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    held = generations(idx_path)[-1]
    add_one(idx_path, "a", 1)
    assert held in generations(idx_path)  # the reader is alive: its generation stays
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    add_one(idx_path, "b", 2)
    assert held not in generations(idx_path) and len(generations(idx_path)) == 1


def test_scans_while_index_add_commits_again_and_again_all_succeed(footage, pdq_index, pdq_config, tmp_path):
    idx_path = copy_index(pdq_index, tmp_path / "idx")
    refs = [write_scene(tmp_path / "refs" / f"extra{i}.mp4", 300 + i, 2.0) for i in range(8)]
    clip = write_copy(tmp_path / "copy.mp4", 11, 3.0, 6.0, lead_in=0.5, tail=0.5)
    # a second process adds one file per commit, eight commits, each when told to start: the
    # scans below run while it commits, and the next commit waits for them (no timing assumed)
    script = textwrap.dedent(f"""
        import sys
        from auditor.config import load_config
        from auditor.indexing.ingest import CatalogueItem, add_items
        cfg = load_config(overrides={{"channels": {{"default": ["pdq"]}}}})
        for p in {[str(r) for r in refs]!r}:
            if sys.stdin.readline().strip() != "go":
                break
            report = add_items({str(idx_path)!r}, [CatalogueItem(__import__("pathlib").Path(p), "Extra", "X")], cfg)
            assert not report.failed, report.failed
            print("committed", flush=True)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    long_lived = Scanner(idx_path, pdq_config)  # opened before the commits, used during them
    seen_generations = set()

    def scan_both() -> None:
        for scanner in (long_lived, Scanner(idx_path, pdq_config)):  # and one opened mid-way
            ev = scanner.scan(clip, "copy")
            assert ev.verdict.flagged and ev.works[0].segments[0].ref_id == "ep01"
            seen_generations.add(ev.index.generation)
            if scanner is not long_lived:
                scanner.close()

    try:
        for _ in refs:
            writer.stdin.write("go\n")
            writer.stdin.flush()
            scan_both()  # while the writer commits
            line = writer.stdout.readline()
            assert line.strip() == "committed", writer.communicate()[1]
        scan_both()
    finally:
        long_lived.close()
        out, err = writer.communicate()
    assert writer.returncode == 0, err
    # the long-lived scanner read the first generation throughout; a fresh one opened after the
    # k-th commit saw the k-th or the next: at least five generations, the last the eighth commit's
    assert len(seen_generations) >= 5 and max(seen_generations) - min(seen_generations) == 8
    with ri.ReferenceIndex.open(idx_path) as idx:
        assert idx.counts()["videos"] == 3 + 8
    add_one(idx_path, "after", 99)
    assert len(generations(idx_path)) == 1  # every reader gone: the next commit leaves only its own
