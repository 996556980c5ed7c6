"""A case that checks itself: a bundle whose evidence was edited and whose manifests were rebuilt
does not verify, and a certificate that names anyone is not taken for who it names."""

import hashlib
import json
import zipfile

import pytest
from test_report import _throwaway_key
from typer.testing import CliRunner

from auditor.cli import app
from auditor.demo import run_demo

runner = CliRunner()
CLIP = "generated_clip_0042"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run = run_demo(tmp_path_factory.mktemp("demo"))
    return {"run": run, "results": run.results, "evidence": run.results / f"{CLIP}.evidence.json"}


def rebuilt(src, dst, edit):
    """The bundle with some members edited by `edit(name, bytes) -> bytes`, manifest.json and
    SHA256SUMS rebuilt to agree: what a forger with a zip tool and sha256sum can do."""
    with zipfile.ZipFile(src) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    manifest = json.loads(members["manifest.json"])
    for name in list(manifest["files"]):
        members[name] = edit(name, members[name])
        manifest["files"][name] = hashlib.sha256(members[name]).hexdigest()
    members["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    members["SHA256SUMS"] = "".join(f"{h}  {n}\n" for n, h in manifest["files"].items()).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def test_a_bundle_with_edited_evidence_and_rebuilt_manifests_does_not_verify(demo, tmp_path):
    out = tmp_path / "case.zip"
    assert runner.invoke(app, ["bundle", str(demo["results"]), "--out", str(out)]).exit_code == 0
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output

    def stronger(name, data):
        if name != f"{CLIP}.evidence.json":
            return data
        ev = json.loads(data)
        ev["verdict"]["score"] = 0.99
        ev["works"][0]["segments"][0]["score"] = 0.99
        return json.dumps(ev, indent=2).encode()

    forged = rebuilt(out, tmp_path / "forged.zip", stronger)
    r = runner.invoke(app, ["verify", str(forged)])
    assert r.exit_code == 1, r.output
    assert f"FAIL  against report: {CLIP}.evidence.json: differs from what {CLIP}.report.pdf carries" in r.output
    assert "bundle does NOT verify" in r.stderr

    def frame(name, data):  # an exhibit frame swapped for another picture
        return data[:-10] + b"0123456789" if name.endswith("s01_p1_query.jpg") else data

    r = runner.invoke(app, ["verify", str(rebuilt(out, tmp_path / "frame.zip", frame))])
    assert r.exit_code == 1 and "s01_p1_query.jpg: differs from what" in r.output


def test_a_certificate_that_names_anyone_is_not_taken_for_who_it_names(demo, tmp_path):
    key, passfile, cert = _throwaway_key(tmp_path, "Studio Legal Dept")
    out = tmp_path / "signed.pdf"
    r = runner.invoke(app, ["report", str(demo["evidence"]), "--out", str(out), "--sign", str(key),
                            "--passphrase-file", str(passfile)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output
    assert "signed by Common Name: Studio Legal Dept" not in r.output
    assert "a certificate that names Common Name: Studio Legal Dept" in r.output
    assert "the signer's identity is NOT checked" in r.output
    assert r.output.strip().endswith("report verifies; signed by a certificate naming Common Name: Studio Legal Dept "
                                     "(identity not checked)")
    # with the certificate the reader trusts, the name is checked and said plainly
    r = runner.invoke(app, ["verify", str(out), "--trust", str(cert)])
    assert r.exit_code == 0 and "report verifies; signed by Common Name: Studio Legal Dept" in r.output


@pytest.fixture(scope="module")
def ja_case(tmp_path_factory):
    """The Japanese case (context file beside the clip), with a reviewer's confirmation and a
    missed match in the trail."""
    from helpers import japanese_case

    from auditor.review.store import ReviewStore

    folder, index, results = japanese_case(tmp_path_factory.mktemp("ja-case"))
    sha = json.loads((results / f"{CLIP}.evidence.json").read_text(encoding="utf-8"))["clip"]["sha256"]
    store = ReviewStore(results / "reviews.sqlite")
    store.add(CLIP, sha, "confirm", "Aiko Tanaka", "the same shot")
    store.add_missed(CLIP, sha, "Moonlit Garden", 0.0, 1.0, None, "Aiko Tanaka", "the garden at the start")
    store.close()
    return {"folder": folder, "results": results}


def test_a_bundle_never_writes_over_the_users_summaries_and_carries_both_languages(ja_case, tmp_path):
    import shutil

    results = tmp_path / "results"
    shutil.copytree(ja_case["results"], results)
    r = runner.invoke(app, ["summary", str(results), "--lang", "ja"])
    assert r.exit_code == 0, r.output
    mine = results / "summary.ja.html"
    assert 'lang="ja"' in mine.read_text(encoding="utf-8")

    def made(folder):  # what the user made (not locks, nor SQLite's own files beside the trail)
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                and not p.name.startswith("reviews.sqlite-")}

    before = made(results)
    out = tmp_path / "case.zip"
    r = runner.invoke(app, ["bundle", str(results), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert made(results) == before  # the bundle wrote nothing into the results folder
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"summary.html", "summary.ja.html", "summary.pdf", "summary.ja.pdf"} <= names
        assert 'lang="ja"' in zf.read("summary.ja.html").decode() and 'lang="en"' in zf.read("summary.html").decode()


def test_a_bundle_holds_the_case_and_says_when_by_whom_and_with_what_it_was_made(ja_case, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796083200")  # 2026-12-01T00:00:00Z
    out = tmp_path / "case.zip"
    r = runner.invoke(app, ["bundle", str(ja_case["results"]), "--out", str(out), "--case", "INQ-2026-014",
                            "--by", "Aiko Tanaka", "--with-clips"])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
        dates = {i.date_time for i in zf.infolist()}
        trail = zf.read("reviews.csv").decode()
        clip = zf.read(f"clips/{CLIP}.mp4")
    assert manifest["case"] == "INQ-2026-014" and manifest["made_by"] == "Aiko Tanaka"
    assert manifest["created_utc"] == "2026-12-01T00:00:00+00:00"
    assert manifest["tool"]["version"] and len(manifest["tool"]["commit"]) in (40, 7) or manifest["tool"]["commit"] == "unknown"
    assert dates == {(2026, 12, 1, 0, 0, 0)}  # not 1980-01-01
    assert "Aiko Tanaka" in trail and "missed match" in trail and "Moonlit Garden" in trail
    assert f"reviewed/{CLIP}.report.pdf" in names and f"context/{CLIP}.context.toml" in names
    assert hashlib.sha256(clip).hexdigest() == json.loads(
        (ja_case["results"] / f"{CLIP}.evidence.json").read_text(encoding="utf-8"))["clip"]["sha256"]
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output


def test_no_report_summary_or_bundle_prints_a_machines_paths(ja_case, tmp_path):
    import shutil
    import subprocess

    from auditor.report.pdf import render_report

    results = tmp_path / "results"
    shutil.copytree(ja_case["results"], results)
    roots = {str(ja_case["folder"]), str(tmp_path), "/tmp/"}
    ev = results / f"{CLIP}.evidence.json"
    texts = []
    for lang in ("en", "ja"):
        for redact in (False, True):
            pdf = render_report(ev, tmp_path / f"{lang}{redact}.pdf", lang=lang, redact_references=redact)
            texts.append(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout.decode())
        assert runner.invoke(app, ["summary", str(results), "--lang", lang]).exit_code == 0
    texts += [p.read_text(encoding="utf-8") for p in results.glob("summary*.html")]  # (summary.csv is data, as evidence is)
    texts += [subprocess.run(["pdftotext", str(p), "-"], capture_output=True, check=True).stdout.decode()
              for p in results.glob("summary*.pdf")]
    out = tmp_path / "case.zip"
    assert runner.invoke(app, ["bundle", str(results), "--out", str(out)]).exit_code == 0
    with zipfile.ZipFile(out) as zf:
        texts.append(zf.read("manifest.json").decode())
    for text in texts:
        flat = "".join(text.split())
        assert not any(root in flat for root in roots), [r for r in roots if r in flat]
