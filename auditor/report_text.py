"""Every word the evidence report prints, in English and Japanese.

Values quoted from the evidence (file names, work titles, rules the scan wrote) are shown as
they are; everything the report itself says comes from here.
"""

from __future__ import annotations

LANGS = ("en", "ja")

TEXT = {
    "en": {
        "title": "Similarity evidence report",
        "subtitle": "Output-similarity audit of a suspect video clip",
        "case": "Case summary",
        "clip": "Suspect clip",
        "clip_sha": "Clip SHA-256",
        "duration": "Duration",
        "size": "Size",
        "resolution": "Picture",
        "scan_time": "Scan time (UTC)",
        "tool": "Tool",
        "index": "Reference index",
        "manifest": "Index manifest SHA-256",
        "channels": "Channels",
        "evidence_sha": "Evidence JSON SHA-256",
        "evidence_attached": "The evidence JSON is attached to this PDF as {name}.",
        "verdict": "Verdict",
        "works": "Works involved",
        "work": "Work",
        "owner": "Rights holder",
        "level": "Level",
        "matched": "Matched",
        "p_value": "p-value",
        "segments": "Segments",
        "query_time": "Suspect clip (s)",
        "reference": "Reference (s)",
        "score": "Score",
        "frame_pairs": "Frame pairs",
        "pair_caption": "Suspect clip at {qt:.2f} s (left) and {ref} at {rt:.2f} s (right)",
        "still_caption": "Suspect clip at {qt:.2f} s (left) and the still {ref} (right)",
        "inliers": "local features: {inliers} matches explained by one transform ({matches} candidates), drawn as lines",
        "no_ref": "reference frame not shown: {why}",
        "redacted": "REDACTED",
        "redacted_note": "Reference frames are downsampled and watermarked (redacted report).",
        "timeline": "Similarity over the clip",
        "timeline_x": "suspect clip time (s)",
        "timeline_y": "best similarity to this work",
        "threshold": "hit threshold",
        "seconds": "{v:.1f} s",
        "bytes": "{v:,} bytes",
        "no_segments": "No segment: nothing in this clip matched the reference index.",
        "methods": "Appendix A: methods",
        "methods_sampling": "Sampling: the suspect clip was sampled at {q:g} frames per second and the reference catalogue at {r:g} frames per second, each frame scaled so that its longer side is at most {side} pixels.",
        "methods_channels": "Channels: each sampled frame was described by the channels below and searched in the reference index; a frame within a channel's threshold of a reference frame is a hit.",
        "methods_segments": "Segments: hits on one reference video chain into a segment when both timelines move forward at a speed between {lo:g} and {hi:g} times, with gaps of at most {gap:g} s; a segment needs {n} frames and {d:g} s.",
        "methods_verify": "Verification: for each segment, frame pairs were decoded again and matched with SIFT local features, Lowe's ratio test and a RANSAC affine fit. Rule: {rule}.",
        "methods_levels": "Levels, strongest first: near-identical copy, strong resemblance, weak resemblance, no match. Each segment states the rule that gave its level.",
        "methods_pvalue": "What a p-value means here: the probability that footage unrelated to the work matches it at least this strongly, measured against null score distributions ({method}). Expected false matches multiply it by the number of comparisons the scan made ({trials}). A small p-value says chance is an unlikely explanation; it does not by itself say why two clips resemble each other.",
        "methods_uncalibrated": "The index was not calibrated: no p-values are stated.",
        "thresholds": "Thresholds",
        "custody": "Appendix B: chain of custody",
        "custody_intro": "SHA-256 hashes of every input and output this report rests on. Anyone holding the same files can recompute them.",
        "file": "File",
        "hash": "SHA-256",
        "parameters": "All parameters",
        "versions": "Software versions",
        "page": "Page {n}",
        "generated": "Report generated {when} by auditor {version} from the evidence JSON alone.",
        "levels": {
            "near-identical copy": "near-identical copy",
            "strong resemblance": "strong resemblance",
            "weak resemblance": "weak resemblance",
            "no match": "no match",
        },
        "verdict_match": "Seconds {qs:.1f}–{qe:.1f} of {clip} match {where} ({work}, {owner}): {level}.",
        "where_video": "seconds {rs:.1f}–{re:.1f} of {ref}",
        "where_still": "the still {ref}",
        "verdict_more": " {n} further segment(s) follow.",
        "verdict_p": " Unrelated footage matches this well with probability {bound}{p} ({bound}{e} expected false matches in this scan).",
        "below": "below ",
        "verdict_none": "No part of {clip} matches the reference index.",
        "flagged": "Flagged for review.",
        "not_flagged": "Not flagged.",
        "rule": "Rule",
        "verification": "Verification",
        "exhibit_from": "Frame pictures saved by the scan",
    },
    "ja": {
        "title": "類似性証拠報告書",
        "subtitle": "被疑動画クリップの出力類似性監査",
        "case": "事案の概要",
        "clip": "被疑クリップ",
        "clip_sha": "クリップの SHA-256",
        "duration": "長さ",
        "size": "サイズ",
        "resolution": "画面",
        "scan_time": "照合日時（UTC）",
        "tool": "ツール",
        "index": "参照インデックス",
        "manifest": "インデックスのマニフェスト SHA-256",
        "channels": "チャネル",
        "evidence_sha": "証拠 JSON の SHA-256",
        "evidence_attached": "証拠 JSON は {name} としてこの PDF に添付されています。",
        "verdict": "判定",
        "works": "関係する作品",
        "work": "作品",
        "owner": "権利者",
        "level": "水準",
        "matched": "一致時間",
        "p_value": "p 値",
        "segments": "一致区間",
        "query_time": "被疑クリップ（秒）",
        "reference": "参照（秒）",
        "score": "スコア",
        "frame_pairs": "フレームの対比",
        "pair_caption": "被疑クリップ {qt:.2f} 秒（左）と {ref} の {rt:.2f} 秒（右）",
        "still_caption": "被疑クリップ {qt:.2f} 秒（左）と静止画 {ref}（右）",
        "inliers": "局所特徴：{matches} 個の候補のうち {inliers} 個が一つの変換で説明される対応（線で表示）",
        "no_ref": "参照フレームは表示できません：{why}",
        "redacted": "編集済み",
        "redacted_note": "参照フレームは縮小し透かしを入れています（外部提出用の編集済み報告書）。",
        "timeline": "クリップ全体の類似度",
        "timeline_x": "被疑クリップの時刻（秒）",
        "timeline_y": "この作品との最大類似度",
        "threshold": "ヒットの閾値",
        "seconds": "{v:.1f} 秒",
        "bytes": "{v:,} バイト",
        "no_segments": "一致区間なし：このクリップのどの部分も参照インデックスと一致しませんでした。",
        "methods": "付録 A：方法",
        "methods_sampling": "抽出：被疑クリップは毎秒 {q:g} フレーム、参照カタログは毎秒 {r:g} フレームで抽出し、各フレームは長辺が {side} ピクセル以下になるよう縮小しました。",
        "methods_channels": "チャネル：抽出した各フレームを下記のチャネルで記述し、参照インデックスで検索しました。チャネルの閾値内にある参照フレームをヒットとします。",
        "methods_segments": "一致区間：一つの参照動画へのヒットは、両方の時間軸が {lo:g} 倍から {hi:g} 倍の速度で進み、間隔が {gap:g} 秒以内のとき一つの区間にまとめます。区間には {n} フレーム以上かつ {d:g} 秒以上が必要です。",
        "methods_verify": "検証：各区間のフレーム対を改めて復号し、SIFT 局所特徴、Lowe の比率検定、RANSAC によるアフィン変換の当てはめで照合しました。規則：{rule}。",
        "methods_levels": "水準（強い順）：ほぼ同一の複製、強い類似、弱い類似、一致なし。各区間にはその水準を与えた規則を記載しています。",
        "methods_pvalue": "ここでの p 値の意味：作品と無関係な映像が、偶然この強さ以上で一致する確率です。帰無分布（{method}）に対して測定しています。偶然の一致の期待件数は、これに照合で行った比較の数（{trials}）を掛けたものです。小さな p 値は偶然では説明しにくいことを示しますが、それだけで二つのクリップが似ている理由を示すものではありません。",
        "methods_uncalibrated": "インデックスが較正されていないため、p 値は記載していません。",
        "thresholds": "閾値",
        "custody": "付録 B：保管の連鎖",
        "custody_intro": "この報告書の根拠となるすべての入力と出力の SHA-256 ハッシュです。同じファイルを持つ者は誰でも再計算できます。",
        "file": "ファイル",
        "hash": "SHA-256",
        "parameters": "全パラメータ",
        "versions": "ソフトウェアのバージョン",
        "page": "{n} ページ",
        "generated": "この報告書は {when} に auditor {version} により証拠 JSON のみから作成されました。",
        "levels": {
            "near-identical copy": "ほぼ同一の複製",
            "strong resemblance": "強い類似",
            "weak resemblance": "弱い類似",
            "no match": "一致なし",
        },
        "verdict_match": "{clip} の {qs:.1f}–{qe:.1f} 秒は {where}（{work}、{owner}）と一致します：{level}。",
        "where_video": "{ref} の {rs:.1f}–{re:.1f} 秒",
        "where_still": "静止画 {ref}",
        "verdict_more": "ほかに {n} 件の一致区間があります。",
        "verdict_p": "無関係な映像がこれほど一致する確率は {p}{bound}（この照合での偶然の一致の期待件数は {e}{bound}）です。",
        "below": " 未満",
        "verdict_none": "{clip} のどの部分も参照インデックスと一致しません。",
        "flagged": "確認対象として指摘します。",
        "not_flagged": "指摘なし。",
        "rule": "規則（証拠 JSON の原文）",
        "verification": "検証",
        "exhibit_from": "照合時に保存したフレーム画像",
    },
}


def verdict_sentence(evidence: dict, lang: str) -> str:
    """The verdict in one plain sentence, from the evidence's structured fields."""
    t = TEXT[lang]
    clip = evidence["query_id"]
    segments = [s for w in evidence["works"] for s in w["segments"]]
    v = evidence["verdict"]
    if not segments:
        return t["verdict_none"].format(clip=clip)
    best_work = evidence["works"][0]
    best = best_work["best_segment"]
    where = (
        t["where_still"].format(ref=best["ref_id"])
        if best["kind"] == "still"
        else t["where_video"].format(ref=best["ref_id"], rs=best["ref_start"], re=best["ref_end"])
    )
    text = t["verdict_match"].format(
        clip=clip, qs=best["query_start"], qe=best["query_end"], where=where, work=best_work["work"],
        owner=best_work["owner"], level=t["levels"][best["level"]],
    )
    if len(segments) > 1:
        text += t["verdict_more"].format(n=len(segments) - 1)
    if v.get("p_value") is not None:
        bound = t["below"] if v.get("p_value_at_floor") else ""
        text += t["verdict_p"].format(bound=bound, p=f"{v['p_value']:.2g}", e=f"{v['expected_false_matches']:.2g}")
    return text
