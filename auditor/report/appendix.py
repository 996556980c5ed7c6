"""The report's appendices: A, the frame pairs with their local-feature matches drawn; B, the
methods (with the thresholds that decide levels); C, the chain of custody (every hash, every
parameter, the software versions)."""

from __future__ import annotations

import hashlib
import io

from .. import __version__
from ..evidence.records import Evidence
from ..evidence.rules import Level
from ..evidence.wording import channel_description, count, level_name
from .kit import ATTACHMENT_NAME, FRAME_W_MM, Kit, channel_lines, file_name, flatten, fmt_p, plurals
from .pictures import MAX_LINES, exhibit_picture, png
from .sections import keep_last_two


def overlays(ev: Evidence, images: dict[str, bytes], k: Kit, redact_refs: bool) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, PageBreak, Spacer

    t, P, small = k.t, k.P, k.small
    story = [PageBreak(), P(t["overlays"], k.h2)]
    drawn, figures = 0, []
    for s in ev.segments():
        checked = s.verification.pairs if s.verification else ()
        for ex in s.exhibits:
            i = ex.verification_pair
            if i is None or i >= len(checked) or not checked[i].points or ex.ref_image is None:
                continue
            pic, vpair = exhibit_picture(s, ex, images.__getitem__, redact_refs)
            assert vpair is not None  # the exhibit's pair is among those checked (above)
            width = FRAME_W_MM * mm
            height = width * pic.shape[0] / pic.shape[1]
            if height > 62 * mm:
                width, height = width * 62 * mm / height, 62 * mm
            cap = t["pair_caption"].format(qt=ex.query_t, ref=s.ref_id, rt=ex.ref_t)
            figures.append([Image(io.BytesIO(png(pic)), width=width, height=height), P(cap, small),
                            P(t["inliers_drawn"].format(inliers=vpair.inliers, matches=vpair.matches), small), Spacer(1, 3 * mm)])
            drawn += 1
    story += keep_last_two(figures)
    if drawn:
        story.insert(2, P(t["overlays_intro"].format(n=MAX_LINES), small))
    else:
        story.append(P(t["no_overlays"], small))
    return story


def _table_heading(text: str, k: Kit) -> list:
    """A heading over a long table: on a new page only when little room is left, and not kept
    with the whole table (which then starts on the page where it is announced and runs on)."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import CondPageBreak

    return [CondPageBreak(40 * mm), k.P(text, ParagraphStyle("h3-loose", parent=k.h3, keepWithNext=0))]


def _parameter_tables(params: dict, k: Kit, width_mm: float = FRAME_W_MM) -> list:
    """Parameters as one two-column table per top-level section, keys relative to it (short
    keys never break mid-word)."""
    from reportlab.lib.units import mm

    out = []
    sections: dict[str, list[tuple[str, str]]] = {}
    for key, v in flatten(params):
        head, _, rest = key.partition(".")
        sections.setdefault(head, []).append((rest or head, v))
    rows: list[list] = []
    heads: list[int] = []
    for head, pairs in sections.items():
        heads.append(len(rows))
        rows.append([k.P(head, k.small), k.P("", k.small)])
        rows += [[k.P(key, k.monos), k.P(v, k.monos)] for key, v in pairs]
    if rows:
        from reportlab.lib import colors

        extra: list[tuple] = [("BACKGROUND", (0, r), (-1, r), colors.HexColor("#eeeeee")) for r in heads]
        extra += [("SPAN", (0, r), (-1, r)) for r in heads]
        extra += [("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]
        out.append(k.table(rows, [width_mm * 0.52 * mm, width_mm * 0.48 * mm], header=False, style_extra=extra))
    return out


def methods(ev: Evidence, k: Kit) -> list:
    from reportlab.platypus import PageBreak

    t, P, small = k.t, k.P, k.small
    cfg = ev.tool.parameters
    seg, ver = cfg["segments"], cfg["verify"]
    story = [PageBreak(), P(t["methods"], k.h2)]
    # the rate this clip was sampled at (a short clip's is sampling.query.short_clip_fps)
    q_fps = ev.clip.sampling_fps or cfg["sampling"]["query"]["fps"]
    story.append(P(t["methods_sampling"].format(q=q_fps, r=cfg["sampling"]["reference"]["fps"],
                                                 side=cfg["sampling"]["max_side"])))
    story.append(P(t["methods_channels"]))
    for name, line in zip(ev.tool.channels, channel_lines(ev, k.lang)):
        story.append(P("• " + line, small))
        described = channel_description(name, k.lang)
        if described:
            story.append(P("  " + described, small))
    story.append(P(t["methods_segments"].format(lo=seg["min_speed"], hi=seg["max_speed"], gap=seg["max_gap_s"],
                                                n=seg["min_frames"], d=seg["min_duration_s"])))
    rule = t["verify_rule"].format(lo=ver["min_scale"], hi=ver["max_scale"], aniso=ver["max_anisotropy"],
                                   n=ver["min_inliers"], n_small=ver["min_inliers_small"],
                                   ratio=ver["min_inlier_ratio_small"], share=float(ver.get("min_verified_share", 0.5)))
    story.append(P(t["methods_verify"].format(rule=rule)))
    sep = "、" if k.lang == "ja" else ", "
    flagged = [str(x) for x in cfg["verdict"]["flag_levels"]]
    story.append(P(t["methods_levels"].format(levels=sep.join(level_name(lv, k.lang) for lv in Level),
                                              flagged=sep.join(level_name(lv, k.lang) for lv in Level if str(lv) in flagged))))
    cal = ev.calibration
    if cal and cal.calibrated and cal.null is not None:
        story.append(P(t["methods_pvalue"].format(trials=cal.trials)))
        story += _null(ev, cal, k)
    elif cal and cal.calibrated:  # files written before what the null rests on was recorded
        story.append(P(t["methods_pvalue"].format(trials=cal.trials)))
        story.append(P(t["method_quoted"].format(method=cal.method), small))
    else:
        story.append(P(t["methods_uncalibrated"]))
    story += _table_heading(t["thresholds"], k)
    channels = {name: cfg["channels"][name] for name in ev.tool.channels if isinstance(cfg["channels"].get(name), dict)}
    chosen = {"channels": channels, "verdict": cfg["verdict"], "verify": cfg["verify"], "calibration": cfg.get("calibration", {})}
    return story + _parameter_tables(chosen, k)


def _null(ev: Evidence, cal, k: Kit) -> list:
    """What the p-values rest on (every background file), the model, and the strongest match's exact figures."""
    from reportlab.lib.units import mm

    t, P, small, monos = k.t, k.P, k.small, k.monos
    null, params = cal.null, ev.tool.parameters.get("calibration") or {}
    story = [P(t["null_heading"], k.h3)]
    if null.method == "background":
        story.append(P(t["null_background"].format(clips=null.clips, minutes=f"{null.minutes:g}", **plurals(null),
                                                   frames=count(null.frames, k.lang)), small))
    else:
        story.append(P(t["null_lowo"].format(works=null.works, frames=count(null.frames, k.lang)), small))
    rho = ", ".join(f"{name} {r:.2f}" for name, r in null.correlation.items())
    story.append(P(t["null_model"].format(
        tail=params.get("tail_min_null_values", "?"), frames=count(null.frames, k.lang), n1=count(null.frames + 1, k.lang),
        nch=len(ev.tool.channels), dec=params.get("decorrelation_s", "?"), rho=rho,
        how=t["rho_measured" if null.correlation_measured else "rho_assumed"], floor=params.get("min_p_value", "?")), small))
    files = [s for s in null.sources if s.sha256]
    if files:
        rows = [[P(t["null_files"], small), P("SHA-256", small), P(t["null_duration"], small), P(t["null_frames_col"], small)]]
        rows += [[P(s.name or "", small), P(s.sha256 or "", monos), P(t["seconds"].format(v=float(s.duration_s or 0)), small),
                  P(str(s.frames), small)] for s in files]
        story.append(k.table(rows, [38 * mm, 108 * mm, 15 * mm, 13 * mm]))
    v = ev.verdict
    if v.chance is not None and v.p_value is not None:
        c = v.chance
        rows = [[P(t["figures_p"], small), P(f"{fmt_p(v.p_value, v.p_value_at_floor)} (log10 {v.log10_p_value})", small)],
                [P(t["figures_count"], small), P(t["figures_count_value"].format(k=count(c.null_closer, k.lang),
                                                                                 n=count(c.null_frames, k.lang)), small)],
                [P(t["figures_eff"], small),
                 P(t["figures_eff_value"].format(eff=c.effective_frames or 1, used=c.frames_combined or 1), small)],
                [P(t["figures_e"], small), P(t["figures_e_value"].format(e=f"{v.expected_false_matches or 0:.2g}",
                                                                         trials=count(cal.trials, k.lang)), small)],
                [P(t["figures_basis"], small), P(t["figures_extrapolated"].format(n1=count(c.null_frames + 1, k.lang))
                                                 if c.extrapolated else t["figures_counted"], small)]]
        story += [P(t["figures_heading"], k.h3), k.table(rows, [60 * mm, 114 * mm], header=False)]
    return story


def custody(ev: Evidence, evidence_sha: str, images: dict[str, bytes], k: Kit) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import CondPageBreak, Spacer

    t, P, small, monos = k.t, k.P, k.small, k.monos
    story = [CondPageBreak(110 * mm), P(t["custody"], k.h2), P(t["custody_intro"])]
    rows = [[P(t["file"], small), P(t["hash"], small)],
            [P(f"{t['suspect_clip']}: {file_name(ev.clip.path)}", small), P(ev.clip.sha256, monos)],
            [P(f"{ATTACHMENT_NAME} ({ev.query_id}.evidence.json)", small), P(evidence_sha, monos)],
            [P(f"{t['manifest']}: {file_name(ev.index.path)}", small), P(ev.index.manifest_sha256, monos)]]
    ctx = ev.provenance.context if ev.provenance else None
    if ctx:
        rows.append([P(f"{t['context']}: {file_name(ctx.source)}", small), P(ctx.sha256, monos)])
    for rid, r in sorted(ev.references.items()):
        rows.append([P(f"{t['reference_file']}: {rid} — {file_name(r.path)}", small), P(r.sha256 or "", monos)])
    for name in sorted(images):
        rows.append([P(f"{t['exhibit_from']}: {name}", small), P(hashlib.sha256(images[name]).hexdigest(), monos)])
    story.append(k.table(rows, [64 * mm, 110 * mm]))
    story += _table_heading(t["parameters"], k)
    story += _parameter_tables(ev.tool.parameters, k)
    story += _table_heading(t["versions"], k)
    rows = [[P(key, monos), P(str(v), monos)] for key, v in ev.tool.libraries.items()]
    story.append(k.table(rows, [50 * mm, 124 * mm], header=False))
    story += [Spacer(1, 4 * mm), P(t["rendered"].format(when=ev.created_utc, version=__version__), small)]
    return story
