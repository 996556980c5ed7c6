"""Provenance: C2PA Content Credentials signed in the test, container metadata, user context."""

import datetime
import json

import pytest
from helpers import write_copy
from typer.testing import CliRunner

from auditor.cli import app
from auditor.errors import InputError
from auditor.media import synth
from auditor.media.provenance import provenance, read_context

runner = CliRunner()


def _signer():
    """A throwaway CA and an end-entity certificate for a 'video generator' (made with cryptography)."""
    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn, org):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)
    ca = (x509.CertificateBuilder().subject_name(name("Test Root", "Test CA")).issuer_name(name("Test Root", "Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("Example Video Generator", "Example AI Lab"))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, pem, None))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    import c2pa

    d = tmp_path_factory.mktemp("prov")
    plain = synth.write_clip(d / "plain.mp4", lambda t: synth.scene_frame(3, t, 320, 180), 2.0, 24.0)
    manifest = {
        "claim_generator_info": [{"name": "Example Video Generator", "version": "2.1"}],
        "title": "generated.mp4",
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}],
    }
    signed = d / "signed.mp4"
    with c2pa.Builder(manifest) as builder, open(plain, "rb") as src, open(signed, "w+b") as dst:
        builder.sign(_signer(), "video/mp4", src, dst)
    data = bytearray(signed.read_bytes())
    i = data.find(b"mdat") + 300
    data[i : i + 4] = bytes(b ^ 0xFF for b in data[i : i + 4])  # alter picture bytes after signing
    altered = d / "altered.mp4"
    altered.write_bytes(bytes(data))
    return {"dir": d, "plain": plain, "signed": signed, "altered": altered}


def test_signed_clip_reads_back_valid_with_its_generator_and_ai_assertion(clips):
    cc = provenance(clips["signed"])["content_credentials"]
    assert cc["status"] == "valid" and not cc["reasons"]
    m = cc["active_manifest"]
    assert m["claim_generator"] == "Example Video Generator 2.1"
    assert m["signer"] == "Example Video Generator" and m["certificate_issuer"] == "Example AI Lab"
    assert m["actions"][0]["action"] == "c2pa.created" and m["ai_generated"] is True
    assert cc["signer_trusted"] is False  # a throwaway CA: valid, but not on any trust list


def test_a_clip_without_a_manifest_is_normal(clips):
    p = provenance(clips["plain"])
    assert p["content_credentials"]["status"] == "absent"
    assert p["content_credentials"]["summary"] == "no Content Credentials"
    box = p["container"]
    assert (box["width"], box["height"], box["fps"], box["duration_s"]) == (320, 180, 24.0, 2.0)
    assert box["encoder"].startswith("Lavf")  # the encoder tag FFmpeg's muxer wrote
    assert p["context"] is None


def test_bytes_altered_after_signing_fail_validation_with_the_reason(clips):
    cc = provenance(clips["altered"])["content_credentials"]
    assert cc["status"] == "invalid"
    assert any("mismatch" in r["code"] for r in cc["reasons"])
    assert "INVALID" in cc["summary"]


def test_sidecar_context_is_stored_verbatim_and_marked_user_supplied(clips, tmp_path):
    clip = tmp_path / "gen.mp4"
    clip.write_bytes(clips["plain"].read_bytes())
    text = 'generator = "Example Video Generator"\ngenerator_version = "2.1"\nprompt = "a courier ship at dusk, anime style"\n' \
           'date = 2026-11-20\ngenerated_by = "Rights team, A. Sato"\n'
    (tmp_path / "gen.mp4.context.toml").write_text(text)
    ctx = provenance(clip)["context"]
    assert ctx["user_supplied"] is True and ctx["text"] == text
    assert ctx["fields"]["prompt"] == "a courier ship at dusk, anime style" and ctx["fields"]["date"] == "2026-11-20"


def test_a_malformed_context_file_is_a_clear_error(clips, tmp_path, pdq_index, footage):
    bad = tmp_path / "bad.toml"
    bad.write_text('prompt = "unterminated\n')
    with pytest.raises(InputError, match="not valid TOML"):
        read_context(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("prompt = 42\n")
    with pytest.raises(InputError, match="'prompt' must be str"):
        read_context(wrong)
    r = runner.invoke(app, ["scan", str(footage["copy"]), "--index", str(pdq_index), "--out", str(tmp_path / "o"),
                            "--context", str(bad)])
    assert r.exit_code == 2 and "bad.toml" in r.stderr and "not valid TOML" in r.stderr
    # a malformed sidecar costs its clip alone
    clip = tmp_path / "side.mp4"
    clip.write_bytes(footage["copy"].read_bytes())
    (tmp_path / "side.mp4.context.toml").write_text("= nonsense\n")
    r = runner.invoke(app, ["scan", str(clip), str(footage["unrelated"]), "--index", str(pdq_index),
                            "--out", str(tmp_path / "o2")])
    assert r.exit_code == 1 and "side.mp4.context.toml" in r.stderr
    assert (tmp_path / "o2" / "unrelated.evidence.json").exists()


def test_scan_evidence_and_report_carry_the_provenance(clips, tmp_path, pdq_index):
    import subprocess

    # a copy of the indexed work, signed by a "generator", with the user's context beside it
    import c2pa

    copy = write_copy(tmp_path / "raw.mp4", 11, 3.0, 7.0, lead_in=1.0, tail=0.5)
    signed = tmp_path / "gen_0001.mp4"
    manifest = {"claim_generator_info": [{"name": "Example Video Generator", "version": "2.1"}],
                "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{
                    "action": "c2pa.created",
                    "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}]}
    with c2pa.Builder(manifest) as builder, open(copy, "rb") as src, open(signed, "w+b") as dst:
        builder.sign(_signer(), "video/mp4", src, dst)
    (tmp_path / "gen_0001.context.toml").write_text('generator = "Example Video Generator"\nprompt = "space courier"\n')
    out = tmp_path / "out"
    r = runner.invoke(app, ["scan", str(signed), "--index", str(pdq_index), "--out", str(out), "--pdf"])
    assert r.exit_code == 0, r.output
    ev = json.loads((out / "gen_0001.evidence.json").read_text())
    assert ev["provenance"]["content_credentials"]["status"] == "valid"
    assert ev["provenance"]["context"]["fields"]["prompt"] == "space courier"
    text = subprocess.run(["pdftotext", "-layout", str(out / "gen_0001.report.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Provenance of the clip" in text and "Example Video Generator" in text and "space courier" in text
    r = runner.invoke(app, ["provenance", str(signed)])
    assert r.exit_code == 0 and "Content Credentials valid" in r.output and "space courier" in r.output
