"""Every word the evidence report prints, in English and Japanese.

Values quoted from the evidence (file names, work titles) are shown as they are; level names,
rule sentences and the verdict come from evidence/wording.py, rendered from the evidence's
structured fields; everything else the report itself says comes from here.
"""

from __future__ import annotations

from ..evidence.wording import LANGS  # noqa: F401  (the languages reports are written in)

TEXT = {
    "en": {
        "title": "Similarity evidence report",
        "subtitle": "Output-similarity audit of a suspect video clip",
        "case": "Case summary",
        "suspect_clip": "Suspect clip",
        "clip_sha": "Clip SHA-256",
        "duration": "Duration",
        "size": "Size",
        "resolution": "Picture",
        "scan_time": "Scan time (UTC)",
        "tool": "Tool",
        "index": "Reference index",
        "manifest": "Index manifest SHA-256",
        "sharded": "Shards",
        "sharded_value": "{n} shards, split by {by}, of index {source} (its manifest SHA-256 {sha}); "
                         "the same candidates as that index in exact search and inverted lists",
        "by_work": "work", "by_video": "video",
        "channels": "Channels",
        "evidence_sha": "Evidence JSON SHA-256",
        "evidence_attached": "The evidence JSON is attached to this PDF as {name}.",
        "verdict": "Verdict",
        "works": "Works involved",
        "more_works": "{n} further work(s): see the pages that follow.",
        "work": "Work",
        "owner": "Rights holder",
        "level": "Level",
        "matched": "Matched",
        "p_value": "p-value",
        "segments": "Segments",
        "query_time": "Suspect clip (s)",
        "reference": "Reference",
        "score": "Score",
        "frame_pairs": "Frame pairs",
        "region": "Region of the still",
        "resemblance": "Resemblance without a shared timeline",
        "resemblance_line": "The clip's closest {m} of {n} moments average a similarity of {value:.3f} to this work's frames "
                            "({channel}); p-value {p}: {level}.",
        "resemblance_uncalibrated": "The index is not calibrated: no p-value, so this resemblance cannot reach a level.",
        "gallery_caption": "Suspect clip at {qt:.2f} s{crop} (left) and the work's nearest frame, {ref} (right): similarity {sim:.3f}",
        "crop": " (a crop of the frame)",
        "region_caption": "The region of {ref} that seconds {qs:.2f}–{qe:.2f} of the suspect clip show (thick frame): "
                          "{x0:.0f}–{x1:.0f} % of its width, {y0:.0f}–{y1:.0f} % of its height, {share:.0f} % of its area. "
                          "Thin numbered frames: where each pair's suspect frame lands on it.",
        "pair_caption": "Suspect clip at {qt:.2f} s (left) and {ref} at {rt:.2f} s (right)",
        "still_caption": "Suspect clip at {qt:.2f} s (left) and the still {ref} (right)",
        "inliers": "local features: {inliers} matches explained by one transform ({matches} candidates)",
        "inliers_drawn": "local features: {inliers} matches explained by one transform ({matches} candidates), drawn as lines",
        "no_ref": "reference frame not shown: {why}",
        "redacted_note": "Reference frames are downsampled and watermarked (redacted report).",
        "timeline": "Similarity over the clip",
        "timeline_x": "suspect clip time (s)",
        "timeline_y": "best similarity to this work",
        "threshold": "hit threshold",
        "seconds": "{v:.1f} s",
        "bytes": "{v:,} bytes",
        "no_segments": "No segment: nothing in this clip matched the reference index.",
        "methods": "Appendix B: methods",
        "methods_sampling": "Sampling: the suspect clip was sampled at {q:g} frames per second and the reference catalogue at {r:g} frames per second, each frame scaled so that its longer side is at most {side} pixels.",
        "methods_channels": "Channels: each sampled frame was described by the channels below and searched in the reference index; a frame within a channel's threshold of a reference frame is a hit.",
        "methods_segments": "Segments: hits on one reference video chain into a segment when both timelines move forward at a speed between {lo:g} and {hi:g} times, with gaps of at most {gap:g} s; a segment needs {n} frames and {d:g} s.",
        "methods_verify": "Verification: for each segment, frame pairs were decoded again and matched with SIFT local features, Lowe's ratio test and a RANSAC affine fit. Rule: {rule}.",
        "methods_levels": "Levels, strongest first: {levels}. A clip is flagged when its strongest match reaches one of: {flagged} (verdict.flag_levels). Each match states the rule that gave its level.",
        "methods_pvalue": "What a p-value means here: the probability that footage unrelated to the work matches it at least this strongly, measured against null score distributions (below). Expected false matches multiply it by the number of comparisons the scan made ({trials}). A small p-value says chance is an unlikely explanation; it does not by itself say why two clips resemble each other.",
        "methods_uncalibrated": "The index was not calibrated: no p-values are stated.",
        "thresholds": "Thresholds",
        "custody": "Appendix C: chain of custody",
        "custody_intro": "SHA-256 hashes of every input and output this report rests on. Anyone holding the same files can recompute them.",
        "file": "File",
        "hash": "SHA-256",
        "parameters": "All parameters",
        "versions": "Software versions",
        "page": "Page {n}",
        "generated": "Report generated {when} by auditor {version} from the evidence JSON alone.",
        "flagged": "Flagged for review.",
        "not_flagged": "Not flagged.",
        "rule": "Rule",
        "rule_quoted": "Rule (the evidence's own words)",
        "verify_rule": "an affine transform with both scales in [{lo:g}, {hi:g}] and at most {aniso:g} times apart, "
                       "with at least {n} inliers, or at least {n_small} making up an inlier ratio of at least "
                       "{ratio:g}, on at least {share:.0%} of the frame pairs checked",
        "verification": "Verification",
        "exhibit_from": "Frame pictures saved by the scan",
        "review": "Review",
        "review_intro": "Decisions recorded on the review desk, oldest first (an append-only trail).",
        # a match a reviewer added: the work (reference), its times in the clip and in the reference
        "review_missed": "{work}{ref}: clip {qs:.1f}–{qe:.1f} s{rt}",
        "review_when": "When (UTC)", "review_who": "Reviewer", "review_what": "Decision", "review_why": "Note",
        "review_none": "No review decision has been recorded for this clip.",
        "provenance": "Provenance of the clip",
        "cc": "Content Credentials (C2PA)",
        "cc_untrusted": "the signer's certificate is not on a trust list known to this tool",
        "cc_signer": "Signed by {signer} (certificate issuer {issuer}){when}; claim generator {gen}",
        "cc_ai": "AI-generated according to the credentials (IPTC digital source type): {v}",
        "yes": "yes",
        "not_stated": "not stated",
        "container": "Container",
        "container_line": "{codec}, {w} x {h}, {fps:g} fps; encoder {enc}; creation time {created}",
        "not_recorded": "not recorded",
        "context": "Generation context (user-supplied, not verified)",
        "no_context": "none supplied",
        "generation": "{id} (generation {n})",
        "fingerprint": "fingerprint {id}",
        "weights": "weights {w}",
        "reference_file": "Reference file",
        "reference_time": "Reference (s)",
        "episode": "Episode",
        "first_published": "first published {date}",
        "suspect_line": "Suspect clip: {name}",
        "identification": "Identification",
        "case_details": "Case details",
        "strongest_pair": "The strongest frame pair",
        "what_it_means": "What the figures mean",
        "meaning_level": "Level ({level}): {meaning}",
        "span_direction": "{qs:.2f}–{qe:.2f} s plays the reference forwards at {speed:.2f} times its speed.",
        "span_direction_backwards": "{qs:.2f}–{qe:.2f} s plays the reference backwards, from {a:.2f} s down to {b:.2f} s, "
                                    "at {speed:.2f} times its speed.",
        "span_basis": "The index search paired {paired} of its frames with the reference; {guided} further frames were "
                      "compared directly with the reference frames this timeline predicts, and each matched them "
                      "better than frames of the same reference off the timeline.",
        "span_unsupported": "{n} frames inside the span match neither way (fades, flashes, cuts); the timeline runs on "
                            "through them.",
        "meaning_p": "p-value {p}: how likely footage unrelated to the work is to match it at least this strongly, "
                     "measured on unrelated footage; about {e} such false matches are expected in this whole scan.",
        "meaning_chance_none": "Chance: none of the {n} frames of unrelated footage ({basis}) compared with the "
                               "catalogue came as close as this match.",
        "meaning_chance_some": "Chance: {k} of the {n} frames of unrelated footage ({basis}) compared with the "
                               "catalogue came as close as this match ({odds}).",
        "basis_background": "{minutes} minute{ms} of background footage in {clips} clip{s}, listed in Appendix B",
        "basis_lowo": "frames of the catalogue's other works, {works} works left out one at a time",
        "meaning_model": "For the match as a whole, a model fitted to the rarest scores puts a match this strong between "
                         "unrelated footage at {odds} such comparisons. That is an extrapolation beyond the count; "
                         "Appendix B states the model and the exact figures.",
        "meaning_counted": "For the match as a whole, the p-value is {p}, within what the count supports (Appendix B).",
        "meaning_short_frames": "The calibration rests on {frames} null frames, fewer than the documented minimum of "
                                "{min}: these figures rest on little footage.",
        "meaning_short_minutes": "The background runs {minutes} minute{ms}, less than the documented minimum of {min} "
                                 "minutes.",
        "null_heading": "What the p-values rest on",
        "null_background": "Null distributions from background footage known to contain none of the catalogue: "
                           "{clips} clip{s}, {minutes} minute{ms}, {frames} null frames (each a background frame's best "
                           "score against the whole catalogue).",
        "null_lowo": "Null distributions by leaving one work out: each of {works} works' frames compared with the other "
                     "works only; {frames} null frames.",
        "null_model": "A frame's p-value is the share of null frames that scored at least as well (+1 smoothing) while "
                      "at least {tail} do; beyond, the tail of a Gumbel distribution fitted to the null, which is an "
                      "extrapolation: no count of {frames} frames supports a p-value below 1 in {n1}. It is corrected "
                      "for the query's variants (Sidak) and for {nch} channel(s) (Bonferroni). A segment's pairs are "
                      "thinned to one per {dec} s, a reference frame repeated counts once, and the rest are combined "
                      "by Brown's method with the correlation of neighbouring frames' scores {rho} ({how}). p-values "
                      "below {floor} are stated as that floor.",
        "rho_measured": "measured on the background",
        "rho_assumed": "assumed: calibration.assumed_frame_correlation",
        "null_files": "Background files",
        "null_duration": "Duration",
        "null_frames_col": "Frames",
        "figures_heading": "The strongest match's figures",
        "figures_p": "p-value",
        "figures_count": "Null frames as close",
        "figures_count_value": "{k} of {n}",
        "figures_eff": "Independent frames combined",
        "figures_eff_value": "{eff:g} (Brown's method, from {used} frames)",
        "figures_e": "Expected false matches",
        "figures_e_value": "{e} over {trials} comparisons (query frames x reference videos)",
        "figures_basis": "Basis",
        "figures_extrapolated": "extrapolated: below 1 in {n1}, from the fitted Gumbel tail",
        "figures_counted": "counted: within what the null frames support",
        "meaning_no_p": "No p-value: the reference index was not calibrated, so the chance of a match this strong is not stated.",
        "collection": "Collection",
        "overlays": "Appendix A: local-feature matches",
        "overlays_intro": "The frame pairs again, with the local-feature matches that one transform explains drawn as "
                          "lines (at most {n} per pair).",
        "no_overlays": "No frame pair was verified with local features.",
        "pair_clean": "Suspect clip at {qt:.2f} s (left) and {ref} at {rt:.2f} s (right), as sampled, without marks",
        "threshold_label": "hit threshold ({channel})",
        "method_quoted": "Null distributions: {method}",
        "rendered": "Rendered by auditor {version} from the evidence JSON alone (scan finished {when}); the same "
                    "evidence always gives the same report.",
    },
    "ja": {
        "title": "類似性証拠報告書",
        "subtitle": "被疑動画クリップの出力類似性監査",
        "case": "事案の概要",
        "suspect_clip": "被疑クリップ",
        "clip_sha": "クリップの SHA-256",
        "duration": "長さ",
        "size": "サイズ",
        "resolution": "画面",
        "scan_time": "照合日時（UTC）",
        "tool": "ツール",
        "index": "参照インデックス",
        "manifest": "インデックスのマニフェスト SHA-256",
        "sharded": "シャード",
        "sharded_value": "インデックス {source}（マニフェスト SHA-256 {sha}）を{by}単位で {n} 個に分割。"
                         "全探索と転置リストでは候補は元のインデックスと同じ",
        "by_work": "作品", "by_video": "動画",
        "channels": "チャネル",
        "evidence_sha": "証拠 JSON の SHA-256",
        "evidence_attached": "証拠 JSON は {name} としてこの PDF に添付されています。",
        "verdict": "判定",
        "works": "関係する作品",
        "more_works": "ほかに {n} 件の作品があります（以降のページを参照）。",
        "work": "作品",
        "owner": "権利者",
        "level": "水準",
        "matched": "一致時間",
        "p_value": "p 値",
        "segments": "一致区間",
        "query_time": "被疑クリップ（秒）",
        "reference": "参照",
        "score": "スコア",
        "frame_pairs": "フレームの対比",
        "region": "静止画の該当領域",
        "resemblance": "時間軸の一致しない作品との類似",
        "resemblance_line": "クリップの {n} 時点のうち最も近い {m} 時点の、この作品のフレームとの類似度の平均は {value:.3f}"
                            "（{channel}）、p 値 {p}：{level}。",
        "resemblance_uncalibrated": "インデックスが較正されていないため p 値がなく、この類似は水準に達しません。",
        "gallery_caption": "被疑クリップ {qt:.2f} 秒{crop}（左）と作品の最も近いフレーム {ref}（右）：類似度 {sim:.3f}",
        "crop": "（フレームの一部）",
        "region_caption": "被疑クリップの {qs:.2f}–{qe:.2f} 秒が示す {ref} の領域（太枠）：幅の {x0:.0f}–{x1:.0f} %、"
                          "高さの {y0:.0f}–{y1:.0f} %、面積の {share:.0f} %。細い番号付きの枠：各フレーム対の被疑フレームが"
                          "静止画上で対応する位置。",
        "pair_caption": "被疑クリップ {qt:.2f} 秒（左）と {ref} の {rt:.2f} 秒（右）",
        "still_caption": "被疑クリップ {qt:.2f} 秒（左）と静止画 {ref}（右）",
        "inliers": "局所特徴：{matches} 個の候補のうち {inliers} 個が一つの変換で説明される対応",
        "inliers_drawn": "局所特徴：{matches} 個の候補のうち {inliers} 個が一つの変換で説明される対応（線で表示）",
        "no_ref": "参照フレームは表示できません：{why}",
        "redacted_note": "参照フレームは縮小し透かしを入れています（外部提出用の編集済み報告書）。",
        "timeline": "クリップ全体の類似度",
        "timeline_x": "被疑クリップの時刻（秒）",
        "timeline_y": "この作品との最大類似度",
        "threshold": "ヒットの閾値",
        "seconds": "{v:.1f} 秒",
        "bytes": "{v:,} バイト",
        "no_segments": "一致区間なし：このクリップのどの部分も参照インデックスと一致しませんでした。",
        "methods": "付録 B：方法",
        "methods_sampling": "抽出：被疑クリップは毎秒 {q:g} フレーム、参照カタログは毎秒 {r:g} フレームで抽出し、各フレームは長辺が {side} ピクセル以下になるよう縮小しました。",
        "methods_channels": "チャネル：抽出した各フレームを下記のチャネルで記述し、参照インデックスで検索しました。チャネルの閾値内にある参照フレームをヒットとします。",
        "methods_segments": "一致区間：一つの参照動画へのヒットは、両方の時間軸が {lo:g} 倍から {hi:g} 倍の速度で進み、間隔が {gap:g} 秒以内のとき一つの区間にまとめます。区間には {n} フレーム以上かつ {d:g} 秒以上が必要です。",
        "methods_verify": "検証：各区間のフレーム対を改めて復号し、SIFT 局所特徴、Lowe の比率検定、RANSAC によるアフィン変換の当てはめで照合しました。規則：{rule}。",
        "methods_levels": "水準（強い順）：{levels}。最も強い一致が次のいずれかに達したクリップを指摘します：{flagged}（verdict.flag_levels）。各一致にはその水準を与えた規則を記載しています。",
        "methods_pvalue": "ここでの p 値の意味：作品と無関係な映像が、偶然この強さ以上で一致する確率です。帰無分布（下記）に対して測定しています。偶然の一致の期待件数は、これに照合で行った比較の数（{trials}）を掛けたものです。小さな p 値は偶然では説明しにくいことを示しますが、それだけで二つのクリップが似ている理由を示すものではありません。",
        "methods_uncalibrated": "インデックスが較正されていないため、p 値は記載していません。",
        "thresholds": "閾値",
        "custody": "付録 C：証拠保全の記録",
        "custody_intro": "この報告書の根拠となるすべての入力と出力の SHA-256 ハッシュです。同じファイルを持つ者は誰でも再計算できます。",
        "file": "ファイル",
        "hash": "SHA-256",
        "parameters": "全パラメータ",
        "versions": "ソフトウェアのバージョン",
        "page": "{n} ページ",
        "generated": "この報告書は {when} に auditor {version} により証拠 JSON のみから作成されました。",
        "flagged": "確認対象として指摘します。",
        "not_flagged": "指摘なし。",
        "rule": "規則",
        "rule_quoted": "規則（証拠 JSON の原文）",
        "verify_rule": "両方の拡大率が [{lo:g}, {hi:g}] の範囲にあり、その比が {aniso:g} 倍以内のアフィン変換で、"
                       "インライアが {n} 個以上、またはインライア率 {ratio:g} 以上で {n_small} 個以上あること。"
                       "これを検証したフレーム対の {share:.0%} 以上で満たすこと",
        "verification": "検証",
        "exhibit_from": "照合時に保存したフレーム画像",
        "review": "確認",
        "review_intro": "確認デスクで記録された判断（古い順、追記のみの記録）。",
        "review_missed": "{work}{ref}：クリップ {qs:.1f}–{qe:.1f} 秒{rt}",
        "review_when": "日時（UTC）", "review_who": "確認者", "review_what": "判断", "review_why": "メモ",
        "review_none": "このクリップについて記録された確認の判断はありません。",
        "provenance": "クリップの来歴",
        "cc": "コンテンツ認証情報（C2PA）",
        "cc_untrusted": "署名者の証明書は、このツールが知る信頼リストにありません",
        "cc_signer": "署名者 {signer}（証明書発行者 {issuer}）{when}、クレーム生成者 {gen}",
        "cc_ai": "認証情報による AI 生成の表示（IPTC デジタルソースタイプ）：{v}",
        "yes": "あり",
        "not_stated": "記載なし",
        "container": "コンテナ",
        "container_line": "{codec}、{w} x {h}、{fps:g} fps、エンコーダ {enc}、作成日時 {created}",
        "not_recorded": "記録なし",
        "context": "生成の状況（利用者の申告、未検証）",
        "no_context": "申告なし",
        "generation": "{id}（世代 {n}）",
        "fingerprint": "指紋 {id}",
        "weights": "重み {w}",
        "reference_file": "参照ファイル",
        "reference_time": "参照（秒）",
        "episode": "話数",
        "first_published": "初出 {date}",
        "suspect_line": "被疑クリップ：{name}",
        "identification": "識別情報",
        "case_details": "事案の詳細",
        "strongest_pair": "最も強く一致したフレームの対",
        "what_it_means": "数値の意味",
        "meaning_level": "水準（{level}）：{meaning}",
        "span_direction": "{qs:.2f}–{qe:.2f} 秒は参照を {speed:.2f} 倍の速さで順方向に再生しています。",
        "span_direction_backwards": "{qs:.2f}–{qe:.2f} 秒は参照を逆再生しています（{a:.2f} 秒から {b:.2f} 秒まで、"
                                    "{speed:.2f} 倍の速さ）。",
        "span_basis": "インデックス検索で参照と対になったフレームは {paired} 枚です。さらに {guided} 枚は、この時間対応が"
                      "示す参照フレームと直接比較し、いずれも時間対応から外れた同じ参照のフレームより良く一致しました。",
        "span_unsupported": "区間内の {n} 枚はどちらの方法でも一致しません（フェード、フラッシュ、カット）。時間対応はそれらを"
                            "通して続いています。",
        "meaning_p": "p 値 {p}：作品と無関係な映像が偶然この強さ以上で一致する確率（無関係な映像で測定）。この照合全体で"
                     "偶然の一致は約 {e} 件と見込まれます。",
        "meaning_chance_none": "偶然の可能性：目録全体と照合した無関係な映像（{basis}）{n} フレームのうち、"
                               "この一致ほど近いものは一つもありませんでした。",
        "meaning_chance_some": "偶然の可能性：目録全体と照合した無関係な映像（{basis}）{n} フレームのうち、"
                               "この一致ほど近いものは {k} フレーム（{odds}）でした。",
        "basis_background": "背景映像 {clips} 本・計 {minutes} 分。付録 B に一覧",
        "basis_lowo": "目録の他の作品のフレーム。{works} 作品を一つずつ除外して測定",
        "meaning_model": "一致全体については、最も高いスコアの分布に当てはめたモデルによると、無関係な映像どうしで"
                         "これほど強い一致が生じるのは {odds} です。これは実測の範囲を超えた外挿であり、モデルと"
                         "正確な数値は付録 B に記載しています。",
        "meaning_counted": "一致全体の p 値は {p} で、実測の範囲内にあります（付録 B）。",
        "meaning_short_frames": "較正の基礎となる帰無フレームは {frames} 枚で、定めた最低基準（{min} 枚）に届いていません。"
                                "これらの数値は少ない映像に基づいています。",
        "meaning_short_minutes": "背景映像は計 {minutes} 分で、定めた最低基準（{min} 分）に届いていません。",
        "null_heading": "p 値の根拠",
        "null_background": "帰無分布は、目録を一切含まないことが分かっている背景映像から作成しました：{clips} 本、"
                           "計 {minutes} 分、帰無フレーム {frames} 枚（各フレームを目録全体と照合した最良のスコア）。",
        "null_lowo": "帰無分布は作品を一つずつ除外して作成しました：{works} 作品それぞれのフレームを他の作品とだけ照合し、"
                     "帰無フレームは {frames} 枚です。",
        "null_model": "フレームの p 値は、それ以上のスコアを得た帰無フレームの割合（+1 平滑化）です。該当が {tail} 枚未満の"
                      "範囲では、帰無分布に当てはめたガンベル分布の裾を用います。これは外挿であり、{frames} 枚の実測では"
                      " {n1} 回に 1 回を下回る p 値は裏付けられません。クエリの変形（シダック法）と {nch} チャネル"
                      "（ボンフェローニ法）について補正します。区間のフレーム対は {dec} 秒に 1 対に間引き、同じ参照"
                      "フレームの繰り返しは 1 枚と数え、隣接フレームのスコアの相関 {rho}（{how}）を考慮したブラウン法で"
                      "統合します。{floor} を下回る p 値はその下限として記載します。",
        "rho_measured": "背景映像で測定",
        "rho_assumed": "仮定値：calibration.assumed_frame_correlation",
        "null_files": "背景映像ファイル",
        "null_duration": "長さ",
        "null_frames_col": "フレーム数",
        "figures_heading": "最も強い一致の数値",
        "figures_p": "p 値",
        "figures_count": "同程度に近い帰無フレーム",
        "figures_count_value": "{n} 枚中 {k} 枚",
        "figures_eff": "統合した独立フレーム数",
        "figures_eff_value": "{eff:g}（ブラウン法、{used} フレームから）",
        "figures_e": "偶然の一致の期待件数",
        "figures_e_value": "{e}（比較 {trials} 回：クエリフレーム数 × 参照動画数）",
        "figures_basis": "根拠",
        "figures_extrapolated": "外挿：{n1} 回に 1 回未満、当てはめたガンベル分布の裾による",
        "figures_counted": "実測：帰無フレームで裏付けられる範囲内",
        "meaning_no_p": "p 値なし：参照インデックスが較正されていないため、この強さの一致が偶然生じる確率は記載していません。",
        "collection": "収集",
        "overlays": "付録 A：局所特徴の対応",
        "overlays_intro": "フレーム対を再掲し、一つの変換で説明される局所特徴の対応を線で示します（各対 {n} 本まで）。",
        "no_overlays": "局所特徴で検証したフレーム対はありません。",
        "pair_clean": "被疑クリップ {qt:.2f} 秒（左）と {ref} の {rt:.2f} 秒（右）、抽出したまま・書き込みなし",
        "threshold_label": "ヒットの閾値（{channel}）",
        "method_quoted": "帰無分布（証拠 JSON の原文）：{method}",
        "rendered": "この報告書は auditor {version} により証拠 JSON のみから作成されました（照合の完了 {when}）。"
                    "同じ証拠からは常に同じ報告書が得られます。",
    },
}

# the report's tables of words: what it prints for each value of a field, per language
TABLES = {
    "en": {
        "review_decisions": {"confirm": "confirm", "dismiss": "dismiss", "second look": "second look",
                             "missed match": "missed match"},
        "cc_status": {
            "valid": "valid: signature and content hashes check out",
            "invalid": "INVALID: the credentials do not match this file or are broken",
            "absent": "no Content Credentials",
            "unreadable": "present but unreadable",
            "unsupported": "not checked: the C2PA library does not read this format",
        },
        "level_meanings": {
            "near-identical copy": "the clip shows the reference's own pictures, re-encoded, rescaled or lightly edited",
            "strong resemblance": "the clip shows the reference's pictures changed more heavily (cropped, overlaid, "
                                  "re-graded), or a shorter run of them",
            "a frame of the work reproduced": "one or a few of the clip's frames reproduce a frame or still of the work "
                                              "almost exactly (the image a generator was given, for example); the rest "
                                              "of the clip need not follow it",
            "resemblance without a shared timeline": "the clip's pictures look like the work's without following any "
                                                     "of its videos in time",
            "weak resemblance": "some frames resemble the reference; not enough on its own to call the clip a copy",
            "no match": "nothing in the clip matched the reference index closely enough",
        },
        "context_keys": {
            "generator": "Generator", "generator_version": "Generator version", "prompt": "Prompt",
            "negative_prompt": "Negative prompt", "seed": "Seed", "date": "Generated on", "generated_by": "Generated by",
            "collected_by": "Collected by", "organisation": "Organisation", "source_url": "Found at",
            "collected_at": "Collected at", "notes": "Notes",
        },
    },
    "ja": {
        "review_decisions": {"confirm": "確認（一致を認める）", "dismiss": "却下", "second look": "再確認",
                             "missed match": "見落とし"},
        "cc_status": {
            "valid": "有効：署名とコンテンツのハッシュが一致",
            "invalid": "無効：認証情報がこのファイルと一致しないか破損しています",
            "absent": "コンテンツ認証情報なし",
            "unreadable": "存在するが読み取り不能",
            "unsupported": "未確認：C2PA ライブラリがこの形式を読めません",
        },
        "level_meanings": {
            "near-identical copy": "クリップは参照の映像そのもの（再エンコード、拡大縮小、軽い編集）を示しています",
            "strong resemblance": "クリップは参照の映像を大きく加工したもの（切り抜き、重ね合わせ、色調変更）、"
                                  "またはその短い部分を示しています",
            "a frame of the work reproduced": "クリップの一つまたは少数のフレームが、作品のフレームまたは静止画をほぼそのまま"
                                              "再現しています（生成ツールに与えられた画像など）。クリップの他の部分が"
                                              "それに沿うとは限りません",
            "resemblance without a shared timeline": "クリップの映像は作品に似ていますが、どの動画とも時間軸が一致しません",
            "weak resemblance": "一部のフレームが参照に似ていますが、それだけでは複製とはいえません",
            "no match": "クリップのどの部分も参照インデックスと十分には一致しませんでした",
        },
        "context_keys": {
            "generator": "生成ツール", "generator_version": "生成ツールのバージョン", "prompt": "プロンプト",
            "negative_prompt": "ネガティブプロンプト", "seed": "シード", "date": "生成日", "generated_by": "生成者",
            "collected_by": "収集者", "organisation": "組織", "source_url": "発見場所",
            "collected_at": "収集日時", "notes": "メモ",
        },
    },
}
