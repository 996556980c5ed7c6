"""Visual words for local features: a compact inverted file that an index moves to by itself as it
grows, keeps its vocabulary through later additions, and finds what exhaustive matching finds."""

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

import reference_index as ri
from auditor.cli import app
from auditor.config import load_config
from auditor.evidence.files import read_evidence
from auditor.indexing.calibrate import calibrate
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.scan.batch import run_batch
from reference_index.experimental import vocabulary as word_rules
from reference_index.experimental.competition import limits
from reference_index.experimental.vocabulary import Vocabulary
from reference_index.experimental.words import MAGIC, WordIndex
from reference_index.experimental.words_file import WordFileWriter
from reference_index.search.arrayfile import read_arrays, write_arrays
from reference_index.search.vectors import ChannelVectors


def descriptors(n_frames: int, per_frame: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n_frames * per_frame, 32), dtype=np.uint8)


def noisy(codes: np.ndarray, bits: int, seed: int = 1) -> np.ndarray:
    out = np.unpackbits(codes, axis=1)
    rng = np.random.default_rng(seed)
    for row in out:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(out, axis=1)


def test_a_frame_votes_for_itself_through_its_words_and_the_file_round_trips(tmp_path):
    frames, per = 300, 100
    codes = descriptors(frames, per)
    ids = (np.repeat(np.arange(1, frames + 1), per) << 10) | np.tile(np.arange(per), frames)
    flat = ChannelVectors("hamming", 256)
    flat.add(ids, codes)
    words = flat.rebuilt("words")
    assert words.structure == "words" and words.ntotal == len(codes) and "visual words" in words.describe()
    query = noisy(codes[per * 41 : per * 42], 6)  # frame 42, a few bits off each descriptor
    found = words.search_frames(query, np.zeros(per, np.int64), np.array([0]), 3, 40)
    fids, votes = found[0]
    assert fids[0] == 42 and votes[0] >= 0.5 * per and (len(votes) < 2 or votes[1] < votes[0] / 3)
    words.save(tmp_path / "orb.words")
    back = ChannelVectors.load(tmp_path / "orb.words", "hamming", 256, mmap=True)
    assert back.structure == "words" and back.index.vocabulary.id == words.index.vocabulary.id
    again = back.search_frames(query, np.zeros(per, np.int64), np.array([0]), 3, 40)
    assert again[0][0].tolist() == fids.tolist() and again[0][1].tolist() == votes.tolist()
    # the searched inverted file: 5 bytes a descriptor (the descriptors themselves are read only
    # for short-listed frames)
    assert back.index.bytes_per_frame()["inverted_file"] < 5 * per + 64
    assert back.all_ids_and_vectors()[1].tolist() == codes[np.argsort(ids)].tolist()
    # removing a frame's ids removes its postings
    assert back.remove(ranges=[(42 << 10, 43 << 10)]) == per
    assert 42 not in back.search_frames(query, np.zeros(per, np.int64), np.array([0]), 3, 40)[0][0]


def test_a_vote_can_be_held_to_its_own_descriptors_distance():
    """Step 2 takes a distance limit for each query descriptor (the ORB channel holds each under
    its distance to its nearest kept competitor): a descriptor whose match lies beyond its own
    limit gives no vote."""
    frames, per = 50, 40
    codes = descriptors(frames, per)
    ids = (np.repeat(np.arange(1, frames + 1), per) << 10) | np.tile(np.arange(per), frames)
    flat = ChannelVectors("hamming", 256)
    flat.add(ids, codes)
    words = flat.rebuilt("words").index
    query = noisy(codes[per * 9 : per * 10], 6)  # frame 10, 6 bits off each descriptor
    query = np.concatenate([codes[per * 19 : per * 20], query])  # query frame 1 is frame 10; 0 is frame 20
    frame_of, rows = np.repeat([0, 1], per), np.array([0, 1])
    short = words.shortlists(query, frame_of, rows)
    fids, votes = words.votes(query, frame_of, rows, short, 3, 40)[1]
    assert fids[0] == 10 and votes[0] == per
    limits = np.r_[np.full(per, 40), np.where(np.arange(per) % 2 == 0, 40, 5)]  # every other one held under its 6 bits
    (fids20, votes20), (fids, votes) = words.votes(query, frame_of, rows, short, 3, limits)
    assert fids[0] == 10 and votes[0] == per // 2
    assert fids20[0] == 20 and votes20[0] == per  # each frame held to its own descriptors' limits


def test_a_vote_the_rest_of_the_catalogue_would_take_does_not_count(tmp_path):
    """A short list leaves most of the catalogue out, so a frame every query descriptor matches
    loosely collects votes that exhaustive search gives to closer frames elsewhere. Held under each
    query descriptor's nearest kept competitor, it gets none, while a copy, far closer to its
    source, keeps its votes (all but those whose own match was kept). Files keep the competition;
    a file from before it keeps none and counts as before."""
    per = 61  # not a multiple of `competition`: each crowd descriptor's copies are kept somewhere
    loose_q = descriptors(1, per, seed=12)
    codes = np.concatenate([descriptors(1, per, seed=11),  # frame 1: the copy's source
                            noisy(loose_q, 24, seed=13),  # frame 2: 24 bits from each of the query's
                            *[noisy(loose_q, 8, seed=s) for s in range(20, 28)],  # frames 3-10: 8 bits
                            descriptors(40, per, seed=14)])  # frames 11-50: unrelated
    ids = (np.repeat(np.arange(1, 51), per) << 10) | np.tile(np.arange(per), 50)
    index = WordIndex(Vocabulary.for_catalogue(codes, len(codes)), 10, competition=4)
    index.add_with_ids(codes, ids)
    query = np.concatenate([noisy(codes[:per], 3), loose_q])  # query frame 0: a copy of frame 1; 1: loose
    frame_of, rows, short = np.repeat([0, 1], per), np.array([0, 1]), [(np.array([1, 2]), 1.0)] * 2

    def count(ix):
        return ix.votes(query, frame_of, rows, short, 3, limits(40, ix.nearest_competitors(query)))

    loose = index.votes(query, frame_of, rows, short, 3, 40)
    assert loose[1][0][0] == 2 and loose[1][1][0] == per and loose[0][0][0] == 1
    held = count(index)
    assert not len(held[1][0])  # the lookalike's votes go: 8-bit competitors are kept elsewhere
    assert held[0][0][0] == 1 and 0.6 * per <= held[0][1][0] < per
    index.save(tmp_path / "w.words")
    back = WordIndex.load(tmp_path / "w.words", mmap=True)
    assert back.competition == 4 and [v[1].tolist() for v in count(back)] == [v[1].tolist() for v in held]
    header, found = read_arrays(tmp_path / "w.words", MAGIC)
    header = {k: v for k, v in header.items() if k not in ("competition", "arrays")}
    write_arrays(tmp_path / "old.words", MAGIC, header,
                 {s["name"]: a for s, a in found if not s["name"].startswith("competition")})
    old = WordIndex.load(tmp_path / "old.words")
    assert old.competition == 0 and old.nearest_competitors(query) is None
    assert [v[1].tolist() for v in count(old)] == [v[1].tolist() for v in loose]


def _mapping_flags(arr: np.ndarray) -> list[str]:
    """The kernel's flags for the memory mapping that holds `arr` (Linux: /proc/self/smaps)."""
    at, flags, inside = arr.__array_interface__["data"][0], None, False
    for line in open("/proc/self/smaps"):
        head = line.split()[0]
        if "-" in head and len(head.split("-")) == 2 and all(c in "0123456789abcdef-" for c in head):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= at < hi
        elif inside and line.startswith("VmFlags:"):
            flags = line.split()[1:]
    assert flags is not None, "no mapping holds the array"
    return flags


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc/self/smaps")
def test_a_mapped_words_file_reads_descriptors_without_readahead_and_postings_with_it(tmp_path):
    """Step 2 reads a few kilobytes of each short-listed frame: readahead around them would read
    most of a large file that is not in the page cache. The inverted file is read in runs and keeps it."""
    codes = descriptors(120, 50, seed=3)
    flat = ChannelVectors("hamming", 256)
    flat.add((np.repeat(np.arange(120), 50) << 10) | np.tile(np.arange(50), 120), codes)
    flat.rebuilt("words").save(tmp_path / "w.words")
    mapped = WordIndex.load(tmp_path / "w.words", mmap=True)
    assert "rr" in _mapping_flags(mapped._desc) and "rr" in _mapping_flags(mapped._cells)
    assert "rr" not in _mapping_flags(mapped._post)
    held = WordIndex.load(tmp_path / "w.words")  # in memory: nothing to advise
    assert np.array_equal(held._desc, mapped._desc)


@pytest.mark.parametrize("chunk, step", [(777, 1000), (50, 60)])  # chunks and placement cut frames (of 120)
def test_a_words_file_written_chunk_by_chunk_is_the_one_save_writes(tmp_path, chunk, step):
    frames, per = 150, 120
    codes = descriptors(frames, per, seed=5)
    codes[::9] = codes[4]  # a descriptor many frames share: long runs of one word
    ids = (np.repeat(np.arange(3, 2 * frames + 3, 2), per) << 10) | np.tile(np.arange(per), frames)
    flat = ChannelVectors("hamming", 256)
    flat.add(ids, codes)
    words = flat.rebuilt("words")
    words.save(tmp_path / "memory.words")
    vocab = Vocabulary.for_catalogue(codes, len(codes))
    assert vocab.id == words.index.vocabulary.id  # what in_words trains (its sample is all of them here)
    writer = WordFileWriter(tmp_path / "streamed.words", vocab, frames, len(ids), flat.SHIFT_FOR_WORDS)
    for i in range(0, len(ids), chunk):
        writer.add(ids[i : i + chunk], codes[i : i + chunk])
    writer.close(step=step)
    assert (tmp_path / "streamed.words").read_bytes() == (tmp_path / "memory.words").read_bytes()
    assert not list(tmp_path.glob("*.assigned"))
    back = ChannelVectors.load(tmp_path / "streamed.words", "hamming", 256, mmap=True)
    query = noisy(codes[per * 20 : per * 21], 6)  # frame 43
    got = back.search_frames(query, np.zeros(per, np.int64), np.array([0]), 3, 40)[0]
    want = words.search_frames(query, np.zeros(per, np.int64), np.array([0]), 3, 40)[0]
    assert got[0][0] == 43 and got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_a_words_file_writer_refuses_what_it_cannot_write_in_order(tmp_path):
    vocab = Vocabulary.train(descriptors(20, 50), 4, 4)
    writer = WordFileWriter(tmp_path / "w.words", vocab, 2, 100, 10)
    writer.add(np.arange(1024, 1074), descriptors(1, 50))
    with pytest.raises(ValueError, match="ascending"):
        writer.add(np.arange(0, 50), descriptors(1, 50))
    with pytest.raises(ValueError, match="announced"):
        writer.close()
    assert not (tmp_path / "w.words.assigned").exists()


def test_a_words_file_writer_holds_no_chunk_once_it_is_written(tmp_path):
    """Out of core, memory is one chunk and the small per-frame tables: a writer that kept a
    reference into each chunk (the competition's every 256th descriptor, as a slice) held every
    descriptor of a 1.8 M-frame build, 11.5 GB."""
    import gc
    import weakref

    vocab = Vocabulary.train(descriptors(20, 50), 4, 4)
    writer = WordFileWriter(tmp_path / "w.words", vocab, 10, 1000, 10, competition=4)
    gone = []
    for f in range(10):
        codes = descriptors(1, 100, seed=f)
        writer.add((np.full(100, f + 1) << 10) | np.arange(100), codes)
        gone.append(weakref.ref(codes))
        del codes
    gc.collect()
    assert all(ref() is None for ref in gone)
    writer.close()
    assert WordIndex.load(tmp_path / "w.words").kept_competition is not None


def test_a_vocabulary_sends_close_descriptors_to_the_same_word():
    codes = descriptors(100, 50, seed=3)
    vocab = Vocabulary.train(codes, 16, 16)
    words = vocab.assign(codes)
    assert words.min() >= 0 and words.max() < vocab.size and len(np.unique(words)) > vocab.size / 2
    same = (vocab.assign(noisy(codes, 4)) == words).mean()
    assert same > 0.6  # 4 of 256 bits off: mostly the same word


def test_a_copy_seen_through_common_patches_outranks_one_rare_coincidence():
    """Short-listing weights a vote by how few frames the descriptor reaches (idf): twenty votes
    through patches a hundred frames share beat one vote through a patch one frame has (the
    earlier min(1, 3 / frames reached) let the single rare vote win, and a copy made of common
    patches fell off short lists as the catalogue grew)."""
    frames, per, reach = 2000, 50, 100
    codes = descriptors(frames, per, seed=7)
    query = descriptors(1, 21, seed=8)
    copy, decoy = 7, 1500
    rng = np.random.default_rng(9)
    others = rng.choice(np.setdiff1d(np.arange(frames), [copy, decoy]), size=(20, reach - 1), replace=False)
    for i in range(20):  # query descriptor i: in the copy and in 99 other frames, a different 99 each
        codes[copy * per + i] = query[i]
        codes[others[i] * per + 20] = query[i]
    codes[decoy * per + 30] = query[20]  # the rare one: in one frame only
    ids = (np.repeat(np.arange(frames), per) << 10) | np.tile(np.arange(per), frames)
    vocab = Vocabulary.train(codes, 16, 64)
    index = WordIndex(vocab, 10, stop_share=0.0, shortlist=1)
    index.add_with_ids(codes, ids)
    fids, votes = index.search_frames(query, np.zeros(21, np.int64), np.array([0]), 3, 40)[0]
    assert fids[0] == copy and votes[0] >= 20


def test_words_crowded_far_beyond_the_mean_are_not_read_when_short_listing():
    """Real descriptors crowd some words; a word with more than STOP_ABOVE_MEAN times the mean
    postings is a stop word even outside the commonest `stop_share`, so its postings are not read."""
    frames, per = 300, 50
    codes = descriptors(frames, per, seed=11)
    common = descriptors(1, 2, seed=12)
    codes[::7], codes[3::9] = common[0], common[1]  # two patches in many frames
    ids = (np.repeat(np.arange(frames), per) << 10) | np.tile(np.arange(per), frames)
    index = WordIndex(Vocabulary.train(codes, 8, 32), 10, stop_share=0.001)  # the commonest share: one word
    index.add_with_ids(codes, ids)
    crowded = index.vocabulary.assign(common)[:, 0]
    assert set(crowded.tolist()) <= set(index.stop_words().tolist()) and len(index.stop_words()) < index.vocabulary.size / 4
    stats: dict = {}
    index.shortlists(common[1:], np.zeros(1, np.int64), np.array([0]), stats=stats)
    assert stats["postings"] == 0


def test_the_vocabulary_grows_with_the_catalogue():
    """A word for about DESCRIPTORS_PER_WORD descriptors: four times the catalogue, about four
    times the words, so the postings a query descriptor reads stay about the same."""
    small, large = descriptors(400, 50, seed=2), descriptors(1600, 50, seed=3)
    sizes = []
    for codes in (small, large):
        vocab = Vocabulary.for_catalogue(codes, len(codes))
        sizes.append(vocab.size)
        assert len(codes) / vocab.size < 2 * word_rules.DESCRIPTORS_PER_WORD
    assert 3 <= sizes[1] / sizes[0] <= 5
    assert word_rules.words_for(360_000_000) == word_rules.TOP * word_rules.LEAF  # 1.8 M frames: capped at 1,048,576


@pytest.fixture(scope="module")
def word_config():
    return load_config(overrides={"index": {"exact_max_local": 2000, "local_structure": "words"}})  # tiny, in words


def test_index_add_moves_orb_to_visual_words_by_itself_and_a_crop_is_still_found(footage, cropped_copy, word_config, tmp_path):
    items = [CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio"),
             CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures")]
    report = add_items(tmp_path / "idx", items, word_config, ["pdq", "orb"])
    assert any(n.startswith("orb: rebuilt: visual words") for n in report.notes)
    with ri.ReferenceIndex.open(tmp_path / "idx") as idx:
        assert idx.vectors("orb").structure == "words"
        vocab = idx.vectors("orb").index.vocabulary.id
    # a later add only assigns words: the vocabulary stays, and the add says when the catalogue
    # has outgrown it (here: a word wanted for every 2 descriptors)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(word_rules, "DESCRIPTORS_PER_WORD", 2)
        later = add_items(tmp_path / "idx", [CatalogueItem(footage["refs"]["ep02"], "Star Courier", "Demo Studio")], word_config)
    assert any(n.startswith("orb: ") and "`auditor index optimize` would train" in n for n in later.notes), later.notes
    with ri.ReferenceIndex.open(tmp_path / "idx") as idx:
        assert idx.vectors("orb").index.vocabulary.id == vocab and idx.counts()["videos"] == 3
    # `index optimize --retrain` trains the vocabulary again, on everything the channel holds now
    from auditor.indexing.ingest import structure_settings

    with ri.IndexWriter(tmp_path / "idx") as w:
        done = w.optimize(**structure_settings(word_config), retrain=True)
    assert done["orb"].startswith("rebuilt: visual words")
    with ri.ReferenceIndex.open(tmp_path / "idx") as idx:
        assert idx.vectors("orb").index.vocabulary.id != vocab and idx.counts()["videos"] == 3
    calibrate(tmp_path / "idx", word_config)  # leave one work out works from the stored words
    run_batch([cropped_copy, footage["unrelated"]], tmp_path / "idx", tmp_path / "out", word_config)
    crop = read_evidence(tmp_path / "out" / "crop.evidence.json")
    assert crop.verdict.flagged and crop.works[0].segments[0].ref_id == "ep01"
    assert crop.index.channels["orb"].structure == "words" and crop.works[0].segments[0].p_value is not None
    assert not read_evidence(tmp_path / "out" / "unrelated.evidence.json").verdict.flagged


def test_the_cli_says_when_the_structure_moved(footage, tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text("[index]\nexact_max_local = 2000\nlocal_structure = \"words\"\n")
    r = CliRunner().invoke(app, ["index", "add", str(footage["refs"]["ep01"]), "--index", str(tmp_path / "idx"),
                                 "--work", "W", "--owner", "O", "--channels", "pdq,orb", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "index structure: orb: rebuilt: visual words" in r.stdout
    info = json.loads(CliRunner().invoke(app, ["index", "info", "--index", str(tmp_path / "idx"), "--json"]).stdout)
    assert info["channels"]["orb"]["structure"].startswith("visual words")


def test_the_competition_is_searched_through_the_vocabularys_cells_once_it_is_large():
    """Beyond a few thousand kept descriptors, each query descriptor is compared only with those of
    its nearest top-level cells: a descriptor a few bits from a kept one still finds it."""
    from reference_index.experimental.competition import Competition

    kept = descriptors(400, 50, seed=21)
    vocab = Vocabulary.train(kept[:4000], 64, 2)
    rival = Competition.of(vocab, kept)
    assert len(rival) == 20_000 and rival.nprobe < len(vocab.top)
    near = rival.nearest(noisy(kept[::40], 5))
    assert np.mean(near <= 5) >= 0.9 and near.max() < 128  # random codes are ~128 bits apart
    # a descriptor a clip repeats (searched once) gets its own answer in each place
    again = noisy(kept[::40], 5)
    expected = near.tolist() + near[::-1].tolist() + near[:7].tolist()
    assert rival.nearest(np.concatenate([again, again[::-1], again[:7]])).tolist() == expected
    assert Competition.of(vocab, kept[:10]).nearest(kept[:3]).tolist() == [0, 0, 0]  # a few: compared with each


def test_a_words_file_whose_competition_does_not_add_up_is_refused_naming_it(tmp_path):
    """A damaged or edited words file: offsets that run backwards (which would have FAISS copy
    from before the array) or a header naming a competition the file does not hold are refused
    as a corrupt index file, not searched."""
    from reference_index.errors import IndexCorrupt

    codes = descriptors(40, 100, seed=3)
    ids = (np.repeat(np.arange(1, 41), 100) << 10) | np.tile(np.arange(100), 40)
    index = WordIndex(Vocabulary.for_catalogue(codes, len(codes)), 10, competition=4)
    index.add_with_ids(codes, ids)
    index.save(tmp_path / "w.words")
    header, found = read_arrays(tmp_path / "w.words", MAGIC)
    header.pop("arrays")
    arrays = {s["name"]: a.copy() for s, a in found}
    offsets = arrays["competition_offsets"]
    offsets[1:-1] = offsets[1:-1][::-1]  # same ends, running backwards
    write_arrays(tmp_path / "backwards.words", MAGIC, header, arrays)
    without = {k: a for k, a in arrays.items() if not k.startswith("competition")}
    write_arrays(tmp_path / "missing.words", MAGIC, header, without)
    for name, words in (("backwards", "do not fit its offsets"), ("missing", "keeps no competition")):
        with pytest.raises(IndexCorrupt, match=words) as err:
            ChannelVectors.load(tmp_path / f"{name}.words", "hamming", 256)
        assert f"{name}.words" in str(err.value)


def test_step_two_looks_only_in_each_query_descriptors_nearest_cells_and_still_finds_the_copy(tmp_path):
    """Step 2 compares a query descriptor only with the short-listed descriptors in its nearest
    top-level cells (each stored descriptor's cell is kept beside it): a copy keeps its votes at a
    fraction of the comparisons. A file from before cells compares with all; one whose header asks
    for cells it does not hold is refused, naming it."""
    from reference_index.errors import IndexCorrupt

    frames, per = 200, 100
    codes = descriptors(frames, per, seed=7)
    ids = (np.repeat(np.arange(1, frames + 1), per) << 10) | np.tile(np.arange(per), frames)
    index = WordIndex(Vocabulary.train(codes, 64, 8), 10, competition=0, near_cells=4)
    index.add_with_ids(codes, ids)
    query = noisy(codes[per * 41 : per * 42], 6)  # frame 42, 6 bits off each descriptor
    frame_of, rows, every = np.zeros(per, np.int64), np.array([0]), [(np.arange(1, frames + 1), 1.0)]

    def step2(ix):
        stats = {}
        return ix.votes(query, frame_of, rows, every, 3, 40, stats=stats)[0], stats["compared"]

    (fids, votes), compared = step2(index)
    index.near_cells = 0
    (all_fids, all_votes), all_compared = step2(index)
    assert fids[0] == all_fids[0] == 42 and votes[0] >= 0.9 * all_votes[0] >= 0.9 * per
    assert compared <= 0.15 * all_compared  # 4 of 64 cells, about a sixteenth
    index.near_cells = 4
    index.save(tmp_path / "w.words")
    back = WordIndex.load(tmp_path / "w.words", mmap=True)
    assert back.near_cells == 4 and step2(back)[0][1].tolist() == votes.tolist()
    header, found = read_arrays(tmp_path / "w.words", MAGIC)
    header.pop("arrays")
    arrays = {s["name"]: a for s, a in found if s["name"] != "cells"}
    write_arrays(tmp_path / "missing.words", MAGIC, header, arrays)
    with pytest.raises(IndexCorrupt, match="cells") as err:
        ChannelVectors.load(tmp_path / "missing.words", "hamming", 256)
    assert "missing.words" in str(err.value)
    write_arrays(tmp_path / "old.words", MAGIC, {k: v for k, v in header.items() if k != "near_cells"}, arrays)
    old = WordIndex.load(tmp_path / "old.words")
    assert old.near_cells == 0 and step2(old)[0][1].tolist() == all_votes.tolist()
    beyond = dict(arrays, cells=np.full(len(codes), 64, np.uint16))  # the vocabulary has cells 0-63
    write_arrays(tmp_path / "beyond.words", MAGIC, header, beyond)
    with pytest.raises(IndexCorrupt, match="beyond the vocabulary's 64"):
        step2(WordIndex.load(tmp_path / "beyond.words"))


def test_a_query_frames_short_list_is_the_same_searched_alone_or_with_the_frames_around_it():
    """Step 1 reads a (word, signature) once for every query frame of a chunk that looks it up (a
    held shot repeats its corners): each frame's short list and score are those it gets alone,
    however many postings are read at a time, with `exclude`, and a frame without descriptors
    (or left out of `rows`) gets none."""
    frames, per = 200, 100
    codes = descriptors(frames, per, seed=3)
    ids = (np.repeat(np.arange(1, frames + 1), per) << 10) | np.tile(np.arange(per), frames)
    index = WordIndex(Vocabulary.train(codes, 16, 16), 10, competition=0, shortlist=20)
    index.add_with_ids(codes, ids)
    shot = noisy(codes[per * 10 : per * 11], 4)  # frame 11, held over query frames 0, 1 and 3 ...
    query = np.concatenate([shot, shot, noisy(codes[per * 60 : per * 61], 4), noisy(shot, 2, seed=5)])
    frame_of = np.repeat([0, 1, 2, 3], per)  # ... frame 61 in query frame 2; query frame 4 has none
    rows, exclude = np.array([0, 1, 3, 4]), np.array([61, 12])

    def plain(found):
        return [(f.tolist(), score) for f, score in found]

    together = index.shortlists(query, frame_of, rows, exclude)
    assert [11 in f for f, _ in together] == [True, True, True, False]
    assert not any(np.isin(f, exclude).any() for f, _ in together)
    assert all(len(f) <= 20 and f.tolist() == sorted(f.tolist()) for f, _ in together)
    alone = [index.shortlists(query[frame_of == r], frame_of[frame_of == r], np.array([r]), exclude)[0] for r in rows]
    assert plain(together) == plain(alone)
    assert plain(index.shortlists(query, frame_of, rows[::-1], exclude)) == plain(together)[::-1]  # rows in any order
    index.BLOCK = 50  # postings read in many small pieces
    assert plain(index.shortlists(query, frame_of, rows, exclude)) == plain(together)


def test_a_short_list_keeps_the_best_scores_ties_going_to_the_lower_frame():
    """Step 1 keeps its `shortlist` best frames without sorting every frame it scored: the same
    frames a full sort by score, then frame id, would keep (scores tie often: idf weights repeat)."""
    from reference_index.experimental.words import top_ranked

    rng = np.random.default_rng(4)
    for size, n in ((1000, 300), (300, 300), (50, 300), (1000, 1), (0, 5)):
        score = rng.integers(0, 12, size).astype(np.float64) * np.log(7.0)  # many ties
        expected = np.sort(np.lexsort((np.arange(size), -score))[:n])
        assert top_ranked(score, n).tolist() == expected.tolist()


def test_the_desk_and_the_report_call_the_clip_and_the_scan_time_alike_in_japanese():
    from auditor.report.text import TEXT
    from auditor.review.strings import STRINGS

    desk, pdf = STRINGS["ja"], TEXT["ja"]
    assert desk["suspect"] == pdf["suspect_clip"] == "被疑クリップ"
    assert pdf["scan_time"].startswith(desk["scanned"]) and desk["scanned"] == "照合日時"
    assert not [k for k, v in desk.items() if "対象クリップ" in v or "スキャン日時" in v]
    assert pdf["custody"] == "付録 C：証拠保全の記録"  # the term a Japanese legal reader expects


def test_the_japanese_summary_keeps_each_level_on_one_line(tmp_path):
    import shutil

    from helpers import japanese_case
    from playwright.sync_api import sync_playwright

    from auditor.report.summary import write_summary

    _, _, results = japanese_case(tmp_path)
    html = next(p for p in write_summary(results, lang="ja") if p.suffix == ".html")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(html.as_uri())
        lines = page.eval_on_selector_all("td.lvl", """cells => cells.map(c => {
            const r = document.createRange(); r.selectNodeContents(c); return r.getClientRects().length; })""")
        browser.close()
    assert lines and max(lines) == 1  # each level one line of text, not a character a line
