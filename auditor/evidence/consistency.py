"""Whether an evidence record agrees with itself: its verdict is the one its own segments,
resemblances and flag rule give (match/decision.py: the strongest level of the kept segments and
the works' resemblances; flagged when that level is one of `verdict.flag_levels`).

A record edited by hand ("flagged", with no segment behind it) otherwise renders a report that
contradicts itself on its own pages, and verifies. `report`, `summary` and `verify` ask here.
"""

from __future__ import annotations

from .records import Evidence
from .rules import Level


def contradictions(ev: Evidence) -> list[str]:
    """What in the record contradicts the rest of it, one phrase each ([] when it agrees)."""
    levels = [s.level for s in ev.segments()] + [w.resemblance.level for w in ev.works if w.resemblance]
    strongest = min(levels, key=lambda lv: lv.rank) if levels else Level.NONE
    out = []
    v = ev.verdict
    if v.level != strongest:
        out.append(f"the verdict's level is '{v.level}', but its strongest segment or resemblance is '{strongest}'")
    for w in ev.works:
        mine = [s.level for s in w.segments] + ([w.resemblance.level] if w.resemblance else [])
        best = min(mine, key=lambda lv: lv.rank) if mine else Level.NONE
        if w.level != best:
            out.append(f"work '{w.work}' is given the level '{w.level}', but its segments give '{best}'")
    verdict = ev.tool.parameters.get("verdict") if isinstance(ev.tool.parameters, dict) else None
    flag_levels = verdict.get("flag_levels") if isinstance(verdict, dict) else None
    if isinstance(flag_levels, list) and v.flagged != (str(v.level) in flag_levels):
        out.append(f"the clip is {'' if v.flagged else 'not '}flagged, but its level '{v.level}' is "
                   f"{'not ' if v.flagged else ''}one of verdict.flag_levels {flag_levels}")
    elif v.flagged and strongest == Level.NONE:
        out.append("the clip is flagged without any segment or resemblance")
    return out
