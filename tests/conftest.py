import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import CORPUS, make_tiny_open_clip, write_copy, write_scene

from auditor.config import load_config


@pytest.fixture(scope="session", autouse=True)
def verified_files_cache(tmp_path_factory):
    """The index's cache of verified checksums goes to a folder of the test run, not ~/.cache
    (worker processes inherit it)."""
    import os

    folder = tmp_path_factory.mktemp("verified-cache")
    old = os.environ.get("REFERENCE_INDEX_CACHE")
    os.environ["REFERENCE_INDEX_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("REFERENCE_INDEX_CACHE", None)
    else:
        os.environ["REFERENCE_INDEX_CACHE"] = old


@pytest.fixture
def config():
    return load_config()


@pytest.fixture
def pdq_config():
    return load_config(overrides={"channels": {"default": ["pdq"]}})


@pytest.fixture(scope="session")
def footage(tmp_path_factory):
    """A small catalogue (two works, one still) and suspects: a copy and an unrelated clip."""
    d = tmp_path_factory.mktemp("footage")
    refs = {
        "ep01": write_scene(d / "ref" / "ep01.mp4", 11, 10.0),
        "ep02": write_scene(d / "ref" / "ep02.mp4", 12, 8.0),
        "other": write_scene(d / "ref" / "other.mp4", 21, 8.0),
    }
    copy = write_copy(d / "suspects" / "copy.mp4", 11, 3.0, 7.0, lead_in=2.0, tail=1.0)
    unrelated = write_scene(d / "suspects" / "unrelated.mp4", 95, 6.0, size=(400, 224), fps=25.0)
    return {"dir": d, "refs": refs, "copy": copy, "unrelated": unrelated}


@pytest.fixture(scope="session")
def pdq_index(footage, tmp_path_factory):
    from auditor.indexing.ingest import CatalogueItem, add_items

    cfg = load_config(overrides={"channels": {"default": ["pdq"]}})
    idx = tmp_path_factory.mktemp("pdq_index") / "idx"
    items = [
        CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio", episode="1"),
        CatalogueItem(footage["refs"]["ep02"], "Star Courier", "Demo Studio", episode="2"),
        CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures"),
    ]
    report = add_items(idx, items, cfg, ["pdq"])
    assert not report.failed, report.failed
    return idx


@pytest.fixture(scope="session")
def orb_index(footage, tmp_path_factory):
    """The footage's catalogue indexed with pdq and orb."""
    from auditor.indexing.ingest import CatalogueItem, add_items

    idx = tmp_path_factory.mktemp("orb_index") / "idx"
    items = [
        CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio", episode="1"),
        CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures"),
    ]
    report = add_items(idx, items, load_config(), ["pdq", "orb"])
    assert not report.failed, report.failed
    return idx


@pytest.fixture(scope="session")
def cropped_copy(tmp_path_factory):
    """Seconds 2-6 of ep01 with the central 60 % cropped out and scaled up: PDQ cannot see it."""
    import cv2
    import numpy as np

    from auditor.media import synth

    filler = cv2.GaussianBlur(np.random.default_rng(7).integers(0, 255, (224, 400, 3), dtype=np.uint8), (0, 0), 3)

    def frame(t):
        if 0.5 <= t < 4.5:
            f = synth.scene_frame(11, 2.0 + t - 0.5, 320, 180)
            return synth.rescale(f[36:144, 64:256], 400, 224)
        return np.roll(filler, int(40 * t), axis=1)  # footage of another kind before and after

    return synth.write_clip(tmp_path_factory.mktemp("crop") / "crop.mp4", frame, 5.0, fps=25.0)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory):
    return make_tiny_open_clip(tmp_path_factory.mktemp("tiny_clip") / "model", seed=0)


@pytest.fixture
def corpus():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS
