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
