"""The evidence PDF and `auditor verify`: contents, Japanese, attachment, signature, bad input."""

import datetime
import json
import shutil
import subprocess

import numpy as np
import pikepdf
import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.demo import run_demo
from auditor.report.pdf import render_report
from auditor.report.pictures import redact
from auditor.report.story import ATTACHMENT_NAME
from reference_index.store.files import sha256_file

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's scan: one flagged copy (with exhibit frames) and one unrelated clip."""
    run = run_demo(tmp_path_factory.mktemp("demo"))
    flagged = run.results / "generated_clip_0042.evidence.json"
    return {"run": run, "evidence": flagged, "clean": run.results / "generated_clip_0043.evidence.json",
            "clip": run.folder / "suspects" / "generated_clip_0042.mp4"}


def pdftotext(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()


def test_report_states_hashes_verdict_works_and_segments_and_carries_the_evidence(demo, tmp_path):
    out = render_report(demo["evidence"], tmp_path / "r.pdf")
    ev = json.loads(demo["evidence"].read_text())
    text = pdftotext(out)
    flat = "".join(text.split())
    for sha in (ev["clip"]["sha256"], ev["index"]["manifest_sha256"], sha256_file(demo["evidence"])):
        assert sha in flat
    assert "near-identical copy" in text and "Star Courier" in text and "Demo Studio" in text
    seg = ev["works"][0]["segments"][0]
    assert f"{seg['query_start']:.2f}–{seg['query_end']:.2f}" in text
    assert "Appendix B: methods" in text and "Appendix C: chain of custody" in text
    with pikepdf.open(out) as pdf:
        attached = pdf.attachments[ATTACHMENT_NAME].get_file().read_bytes()
        assert attached == demo["evidence"].read_bytes()
        images = sum(len(page.get_images()) for page in pdf.pages)
        assert images >= 1 + len(seg["exhibits"])  # the timeline and every frame pair
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_clip_without_matches_still_gets_a_clean_report(demo, tmp_path):
    text = pdftotext(render_report(demo["clean"], tmp_path / "clean.pdf"))
    assert "No part of generated_clip_0043.mp4 matches the reference index." in text
    assert "Not flagged." in text


def test_japanese_report_has_japanese_text_and_embeds_its_font(demo, tmp_path):
    out = render_report(demo["evidence"], tmp_path / "ja.pdf", lang="ja")
    text = pdftotext(out)
    for s in ("類似性証拠報告書", "事案の詳細", "判定", "ほぼ同一の複製", "権利者", "付録 B：方法", "付録 C：証拠保全の記録"):
        assert s in text, s
    with pikepdf.open(out) as pdf:
        fonts = [f for page in pdf.pages for f in page.Resources.Font.values()]
        ipa = [f for f in fonts if "IPAexGothic" in str(f.get("/BaseFont", ""))]
        assert ipa and all("/FontFile2" in (f.get("/FontDescriptor") or {}) or "/DescendantFonts" in f for f in ipa)


def test_verify_passes_a_report_and_fails_a_tampered_attachment_or_another_clip(demo, tmp_path):
    out = render_report(demo["evidence"], tmp_path / "r.pdf")
    r = runner.invoke(app, ["verify", str(out), "--clip", str(demo["clip"])])
    assert r.exit_code == 0, r.output
    assert "report verifies" in r.output

    other = demo["run"].folder / "suspects" / "generated_clip_0043.mp4"
    r = runner.invoke(app, ["verify", str(out), "--clip", str(other)])
    assert r.exit_code == 1 and "FAIL  clip file" in r.output

    ev = json.loads(demo["evidence"].read_text())
    ev["verdict"]["level"] = "no match"  # someone softens the verdict inside the attachment
    tampered = tmp_path / "tampered.pdf"
    with pikepdf.open(out) as pdf:
        pdf.attachments[ATTACHMENT_NAME] = pikepdf.AttachedFileSpec(pdf, json.dumps(ev).encode(), mime_type="application/json")
        pdf.save(tampered)
    r = runner.invoke(app, ["verify", str(tampered)])
    assert r.exit_code == 1
    assert "FAIL  printed hash" in r.output and "does NOT verify" in r.stderr


def _throwaway_key(folder, common_name="Rights Team Test Signer"):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "key.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", key, cert, None, serialization.BestAvailableEncryption(b"s3cret")))
    (folder / "pass.txt").write_text("s3cret\n")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder / "key.p12", folder / "pass.txt", folder / "cert.pem"


def test_a_signed_report_verifies_and_any_later_change_breaks_it(demo, tmp_path):
    key, passfile, cert = _throwaway_key(tmp_path)
    out = tmp_path / "signed.pdf"
    r = runner.invoke(app, ["report", str(demo["evidence"]), "--out", str(out), "--sign", str(key),
                            "--passphrase-file", str(passfile)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(out), "--trust", str(cert)])
    assert r.exit_code == 0, r.output
    assert "ok    signature: signed by" in r.output and "ok    trust" in r.output
    assert "report verifies; signed by Common Name: Rights Team Test Signer" in r.output
    # deterministic up to the signature: the signed report begins with the unsigned report's bytes
    unsigned = render_report(demo["evidence"], tmp_path / "unsigned.pdf").read_bytes()
    assert out.read_bytes()[: len(unsigned)] == unsigned
    r = runner.invoke(app, ["verify", str(tmp_path / "unsigned.pdf")])
    assert r.exit_code == 0 and "report verifies, UNSIGNED" in r.output

    data = bytearray(out.read_bytes())
    i = data.index(b"Similarity evidence report")  # one letter of the signed document's title
    data[i] = ord("X")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(bytes(data))
    r = runner.invoke(app, ["verify", str(broken)])
    assert r.exit_code == 1 and "FAIL  signature" in r.output

    (tmp_path / "wrong.txt").write_text("nope\n")
    r = runner.invoke(app, ["report", str(demo["evidence"]), "--out", str(tmp_path / "x.pdf"), "--sign", str(key),
                            "--passphrase-file", str(tmp_path / "wrong.txt")])
    assert r.exit_code == 2 and "cannot load the PKCS#12 key" in r.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_bad_evidence_gets_one_clear_error_and_no_pdf(demo, tmp_path):
    ev = json.loads(demo["evidence"].read_text())
    cases = {}
    cases["other-schema"] = json.dumps({**ev, "schema": "auditor.evidence/0"})
    cases["truncated"] = demo["evidence"].read_text()[:500]
    folder = tmp_path / "no-frames"
    folder.mkdir()
    for name, text in cases.items():
        (tmp_path / f"{name}.evidence.json").write_text(text)
    (folder / "copy.evidence.json").write_text(json.dumps(ev))  # its .frames folder is not beside it
    expected = {
        tmp_path / "other-schema.evidence.json": "evidence schema 'auditor.evidence/0'",
        tmp_path / "truncated.evidence.json": "not a complete evidence JSON file",
        folder / "copy.evidence.json": "exhibit frame generated_clip_0042.frames/s01_p1_query.jpg is missing",
    }
    for path, message in expected.items():
        out = path.with_suffix(".pdf")
        r = runner.invoke(app, ["report", str(path), "--out", str(out)])
        assert r.exit_code == 1, r.output
        assert message in r.stderr and str(path) in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert not out.exists() and not list(path.parent.glob(".*.tmp"))


def test_redacted_reports_blur_and_mark_reference_frames(demo, tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)
    out = redact(image, "REDACTED")
    assert out.shape == image.shape
    assert np.abs(np.diff(out.astype(int), axis=1)).mean() < 0.5 * np.abs(np.diff(image.astype(int), axis=1)).mean()
    text = pdftotext(render_report(demo["evidence"], tmp_path / "red.pdf", redact_references=True))
    assert "Reference frames are downsampled and watermarked" in text


def test_scan_pdf_writes_a_report_for_flagged_clips_only(demo, tmp_path):
    run = demo["run"]
    suspects = sorted((run.folder / "suspects").glob("*.mp4"))
    out = tmp_path / "scan"
    r = runner.invoke(app, ["scan", *map(str, suspects), "--index", str(run.index), "--out", str(out), "--pdf", "--lang", "ja"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("*.pdf")) == ["generated_clip_0042.report.ja.pdf"]
    summary = (out / "summary.csv").read_text()
    assert "generated_clip_0042.report.ja.pdf" in summary


def test_missing_japanese_font_is_a_clear_error(demo, tmp_path, monkeypatch):
    import auditor.report.fonts as report

    monkeypatch.setattr(report, "JA_FONT_PATHS", ())
    monkeypatch.setenv(report.FONT_ENV, str(tmp_path / "none.ttf"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    r = runner.invoke(app, ["report", str(demo["evidence"]), "--lang", "ja", "--out", str(tmp_path / "j.pdf")])
    assert r.exit_code == 3 and "fonts-ipaexfont-gothic" in r.stderr


def test_appendix_b_lists_every_level_and_the_ones_that_flag_as_the_configuration_says(tmp_path):
    import subprocess

    from helpers import japanese_case

    from auditor.report.pdf import render_report

    _, _, results = japanese_case(tmp_path)
    evidence = next(p for p in sorted(results.glob("*.evidence.json")))
    for lang, flagged in (("en", "reaches one of: near-identical copy, strong resemblance, a frame of the work reproduced, "
                                 "resemblance without a shared timeline (verdict.flag_levels)"),
                          ("ja", "いずれかに達したクリップを指摘します：ほぼ同一の複製、強い類似、作品のフレームの再現、"
                                 "時間軸の一致しない作品との類似（verdict.flag_levels）")):
        pdf = render_report(evidence, tmp_path / f"r.{lang}.pdf", lang=lang)
        text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split())
        assert flagged.replace(" ", "") in text.replace(" ", ""), lang
        # and the rate this (short) clip was sampled at, not the configuration's ordinary rate
        assert ("sampled at 10 frames per second" if lang == "en" else "毎秒10フレーム") in (
            text if lang == "en" else text.replace(" ", "")), lang


def test_a_stills_regions_show_on_white_key_art():
    from types import SimpleNamespace

    import cv2
    import numpy as np

    from auditor.report.pictures import region_picture

    white = cv2.imencode(".png", np.full((360, 640, 3), 255, np.uint8))[1].tobytes()
    seg = SimpleNamespace(still_image=SimpleNamespace(file="still.png"), ref_region=(0.1, 0.1, 0.6, 0.6),
                          exhibits=[SimpleNamespace(region=(0.5, 0.5, 0.9, 0.9))])
    pic = region_picture(seg, lambda name: white)
    h, w = pic.shape[:2]
    edge = pic[int(0.9 * (h - 1)) - 2: int(0.9 * (h - 1)) + 3, int(0.7 * w)]  # across the exhibit's lower edge
    assert edge.min() < 60  # drawn dark enough to see on white, not white on white


def test_page_one_says_who_confirmed_the_match_and_when_and_what_reviewers_added(tmp_path):
    import subprocess

    from helpers import japanese_case

    from auditor.report.pdf import render_report

    _, _, results = japanese_case(tmp_path)
    evidence = results / "generated_clip_0042.evidence.json"
    trail = [
        {"created_utc": "2026-12-08T01:00:00Z", "reviewer": "Sato A.", "decision": "second look", "note": ""},
        {"created_utc": "2026-12-08T01:05:00Z", "reviewer": "Sato A.", "decision": "confirm", "note": "same shot"},
        {"created_utc": "2026-12-08T01:06:00Z", "reviewer": "Sato A.", "decision": "missed match", "note": "",
         "work": "Moonlit Garden", "ref_id": "garden_ep01", "query_start": 0.5, "query_end": 1.5,
         "ref_start": 10.0, "ref_end": 11.0},
    ]

    def page1(pdf):
        out = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True)
        return " ".join(out.stdout.split())

    plain = page1(render_report(evidence, tmp_path / "plain.pdf"))
    assert "Flagged for review." in plain and "Reviewed:" not in plain
    en = page1(render_report(evidence, tmp_path / "en.pdf", reviews=trail))
    assert "Reviewed: confirmed as a match by Sato A. on 2026-12-08T01:05:00Z" in en
    assert "Reviewers added 1 match(es) the scan did not report: Moonlit Garden (garden_ep01)" in en
    ja = page1(render_report(evidence, tmp_path / "ja.pdf", lang="ja", reviews=trail)).replace(" ", "")
    assert "2026-12-08T01:05:00Z に Sato A. が一致と確認しました".replace(" ", "") in ja
    assert "スキャンが報告しなかった一致をレビュー担当者が1件追加しました" in ja


def test_page_one_notes_where_the_analysts_context_and_the_file_disagree(tmp_path):
    import json
    import subprocess

    from helpers import japanese_case

    from auditor.report.pdf import render_report

    _, _, results = japanese_case(tmp_path)
    data = json.loads((results / "generated_clip_0042.evidence.json").read_text(encoding="utf-8"))
    made = []

    def page1(lang, edit):
        ev = json.loads(json.dumps(data))
        edit(ev["provenance"])
        path = results / f"case{len(made)}.evidence.json"  # beside its exhibit frames
        made.append(path)
        path.write_text(json.dumps(ev), encoding="utf-8")
        pdf = render_report(path, tmp_path / f"case{len(made)}.{lang}.pdf", lang=lang)
        out = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True)
        return " ".join(out.stdout.split())

    def sora_reencoded(prov):
        prov["context"]["fields"]["generator"] = "Sora 2"
        prov["container"]["encoder"] = "Lavf61.7.100"
        prov["content_credentials"]["status"] = "absent"

    en = page1("en", sora_reencoded)
    assert "Points to note" in en
    assert "names the generator Sora 2, but the file was last written by FFmpeg (encoder Lavf61.7.100)" in en
    assert "no Content Credentials that show it (none present)" in en
    ja = page1("ja", sora_reencoded).replace(" ", "")
    assert "留意事項" in ja and "FFmpeg（エンコーダーLavf61.7.100）" in ja

    def no_generator(prov):
        prov["context"]["fields"].pop("generator", None)
        prov["container"]["encoder"] = "Lavf61.7.100"
    assert "Points to note" not in page1("en", no_generator)  # nothing named: nothing contradicted
