"""Points to note, for page one: where what the analyst says of a clip and what the file says differ.

The generation context is the user's statement (media/provenance.py); the container and the
Content Credentials are what the file itself carries. Printing both without a word lets a reader
miss that they disagree, so page one says where they do:

- the context names a generator, and the file was last written by FFmpeg (its encoder tag is
  `Lavf…`): a re-encoded copy, whatever the generator wrote;
- the context names a generator, and the file carries no Content Credentials (or none that can
  be read) to show it;
- the Content Credentials name the software that made the claim, and it is not the generator the
  context names.

Nothing is inferred beyond these comparisons; where there is no context, there is nothing to note.
"""

from __future__ import annotations

from ..evidence.records import Evidence

WORDS = {
    "en": {
        "heading": "Points to note",
        "reencoded": "The context names the generator {g}, but the file was last written by FFmpeg (encoder {enc}): it "
                     "is a re-encoded copy, not necessarily the file the generator wrote.",
        "no_credentials": "The context names the generator {g}; the file carries no Content Credentials that show it "
                          "({status}).",
        "other_claim": "The context names the generator {g}; the file's Content Credentials were made by {claim}.",
    },
    "ja": {
        "heading": "留意事項",
        "reencoded": "コンテキストでは生成ツールを {g} としていますが、このファイルを最後に書き出したのは FFmpeg"
                     "（エンコーダー {enc}）です。再エンコードされたコピーであり、"
                     "生成ツールが書き出したファイルそのものとは限りません。",
        "no_credentials": "コンテキストでは生成ツールを {g} としていますが、"
                          "ファイルにはそれを示すコンテンツ認証情報がありません（{status}）。",
        "other_claim": "コンテキストでは生成ツールを {g} としていますが、"
                       "ファイルのコンテンツ認証情報を作成したのは {claim} です。",
    },
}

STATUS = {"en": {"absent": "none present", "unreadable": "present but unreadable",
                 "unsupported": "not read for this format", "invalid": "invalid"},
          "ja": {"absent": "なし", "unreadable": "読み取り不能", "unsupported": "この形式は未確認", "invalid": "無効"}}


def heading(lang: str) -> str:
    return WORDS[lang]["heading"]


def points_to_note(ev: Evidence, lang: str) -> list[str]:
    """The sentences, in `lang`; none when the context and the file do not disagree."""
    prov = ev.provenance
    ctx = prov.context if prov is not None else None
    generator = str((ctx.fields or {}).get("generator") or "").strip() if ctx is not None else ""
    if prov is None or not generator:
        return []
    w, out = WORDS[lang], []
    encoder = (prov.container.encoder or "").strip()
    if encoder.startswith("Lavf"):
        out.append(w["reencoded"].format(g=generator, enc=encoder))
    cc = prov.content_credentials
    if cc.status != "valid":
        out.append(w["no_credentials"].format(g=generator, status=STATUS[lang].get(cc.status, cc.status)))
    elif cc.active_manifest is not None and cc.active_manifest.claim_generator:
        claim = cc.active_manifest.claim_generator
        if generator.lower() not in claim.lower():
            out.append(w["other_claim"].format(g=generator, claim=claim))
    return out
