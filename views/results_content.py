"""What the results page shows, derived from the answers: built once per version of them.

Kept in a module of its own (imported once) rather than in the page script, which
Streamlit executes afresh on every rerun: st.cache_data has to read a function's
source to key it, and a function defined anew on each run costs that every time.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from assessment.charts import scores as charts
from assessment.framework.matrix import Framework
from assessment.framework.responses import NO_LEVEL, dump_response, response_to_dict
from assessment.i18n import t
from assessment.scoring.gaps import gap_table
from assessment.scoring.levels import advice, step_levels
from assessment.scoring.scores import by_side, principle_scores, statement_scores

SIDES = ("public", "civil_society")


def fingerprint(responses) -> str:
    text = json.dumps([response_to_dict(r) for r in responses], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()


# --- everything derived from the answers, built once per version of them -----------------

def series_name(side: str | None, count: int, language: str) -> str:
    label = t(f"common.side.{side}", language) if side else t("results.everyone", language)
    return f"{label} ({count})"


def prepared(spec: dict) -> dict:
    """The spec with its datasets already in Arrow form, as st.vega_lite_chart would make them.

    Streamlit converts inline datasets to Arrow on every draw unless they are bytes
    already; doing it here, inside the cache, takes that off every rerun.
    """
    try:
        from streamlit import dataframe_util
    except ImportError:  # a Streamlit without that module: it converts them itself
        return spec
    datasets = spec.get("datasets") or {}
    return {**spec, "datasets": {name: dataframe_util.convert_anything_to_arrow_bytes(pd.DataFrame(rows))
                                 for name, rows in datasets.items()}}


def ready_table(frame: pd.DataFrame, wide: str, width: str = "large", signed: str | None = None) -> dict:
    """A table to draw read-only: as Arrow (converted once, here) and its column settings.

    The `wide` text column gets the room; scores show as whole numbers.
    """
    import pyarrow as pa

    config = {}
    for name in frame.columns:
        if name == wide:
            config[name] = st.column_config.TextColumn(width=width)
        elif pd.api.types.is_numeric_dtype(frame[name]) or frame[name].isna().all():
            config[name] = st.column_config.NumberColumn(format="%+.0f" if name == signed else "%.0f",
                                                         width="small")
    return {"data": pa.Table.from_pandas(frame, preserve_index=False), "config": config}


def text_table(frame: pd.DataFrame, signed: str | None = None) -> dict:
    """A static table whose long texts wrap (statements), numbers as whole numbers, "–" for none."""
    import pyarrow as pa

    def number(value, sign: bool) -> str:
        if value is None or pd.isna(value):
            return "–"
        return f"{value:+.0f}" if sign else f"{value:.0f}"

    shown = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) or frame[name].isna().all():
            shown[name] = [number(v, name == signed) for v in frame[name]]
    return {"data": pa.Table.from_pandas(shown, preserve_index=False), "static": True}


def summary(fw: Framework, scores, side_scores, language: str) -> str:
    """A few sentences beside the radar: strongest and weakest principle, largest difference."""
    name = {p.id: p.name(language) for p in fw.principles}
    scored = [s for s in scores if s.score is not None]
    if not scored:
        return t("results.summary.none", language)
    best, worst = max(scored, key=lambda s: s.score), min(scored, key=lambda s: s.score)
    lines = [t("results.summary.best", language, principle=name[best.principle_id], score=f"{best.score:.0f}"),
             t("results.summary.worst", language, principle=name[worst.principle_id], score=f"{worst.score:.0f}")]
    pairs = [(p.principle_id, p.score - c.score) for p, c in zip(side_scores["public"], side_scores["civil_society"])
             if p.score is not None and c.score is not None]
    principle_id, difference = max(pairs, key=lambda pair: abs(pair[1])) if pairs else ("", 0.0)
    if abs(difference) >= 1:
        key = "results.summary.gap_public" if difference >= 0 else "results.summary.gap_civil"
        lines.append(t(key, language, principle=name[principle_id], points=f"{abs(difference):.0f}"))
    return "\n".join(f"- {line}" for line in lines)


def advice_texts(fw: Framework, responses, extensions, language: str) -> list[str]:
    """Per step: the level reached now, and the tools of the next level with what they are."""
    texts = []
    levels = step_levels(fw, responses)
    for item, tip in zip(levels, advice(fw, levels, extensions)):
        step = fw.step_by_id[item.step_id]
        reached = (t("q.level.none", language) if item.level_id == NO_LEVEL
                   else fw.level_by_id[item.level_id].name(language))
        text = (f"**{step.name(language)}** – "
                f"{t('results.advice.reached', language, level=reached, answered=item.answered)}  \n")
        if tip.next_level is None:
            text += t("results.advice.top", language)
        else:
            up = fw.level_by_id[tip.next_level].name(language)
            text += t("results.advice.next", language, level=up) + "\n\n"
            text += "\n".join(f"- **{tool.name(language)}**: {tool.description(language)}" for tool in tip.tools)
        texts.append(text)
    return texts


@st.cache_data(show_spinner=False, max_entries=100)
def content(_fw: Framework, _responses, _band_responses, framework_id: int, token: str, language: str,
            extensions: tuple[str, ...], answers: str, band_answers: str) -> dict:
    """All of the page that depends on the answers (cached by the fingerprints, not the objects).

    A plain dict: st.cache_data pickles it, and a class defined in this page script
    would not unpickle.
    """
    fw = _fw
    out: dict = {"gaps": None}
    groups = by_side(_responses)
    both = all(groups[side] for side in SIDES)
    col = {key: t(f"results.col.{key}", language)
           for key in ("principle", "statement", "score", "answered", "dont_know", "kind", "what", "difference")}
    side_name = {side: t(f"common.side.{side}", language) for side in SIDES}

    scores = principle_scores(fw, _responses)
    side_scores = {side: principle_scores(fw, groups[side]) for side in SIDES}
    series = {series_name(None, len(_responses), language): scores}
    if both:
        series.update({series_name(side, len(groups[side]), language): side_scores[side] for side in SIDES})
    band = None
    if _band_responses:
        by_unit: dict[tuple, list] = {}
        for response in _band_responses:
            by_unit.setdefault((response.unit, response.year, response.case), []).append(response)
        band = charts.quartile_band(fw, [principle_scores(fw, rs) for rs in by_unit.values()])
    specs = {"radar": charts.radar_chart(fw, series, language, band=band).to_dict(),
             "heatmap": charts.level_heatmap(fw, step_levels(fw, _responses), language, extensions).to_dict()}
    for side in SIDES:
        if groups[side]:
            specs[f"heatmap:{side}"] = charts.level_heatmap(fw, step_levels(fw, groups[side]), language,
                                                            extensions).to_dict()
    out["chart_json"] = {name: json.dumps(spec) for name, spec in specs.items()}
    out["charts"] = {name: prepared(spec) for name, spec in specs.items()}
    out["summary"] = summary(fw, scores, side_scores, language)

    rows = []
    for i, (principle, score) in enumerate(zip(fw.principles, scores)):
        row = {col["principle"]: principle.name(language), col["score"]: score.score}
        row.update({side_name[side]: side_scores[side][i].score for side in SIDES if groups[side]})
        row.update({col["answered"]: score.answered, col["dont_know"]: score.dont_know})
        rows.append(row)
    out["scores"] = ready_table(pd.DataFrame(rows), wide=col["principle"], width="medium")

    rows = []
    side_statements = {side: {s.key: s for s in statement_scores(fw, groups[side])} for side in SIDES}
    for score in statement_scores(fw, _responses):
        principle, statement = fw.statement_by_key[score.key]
        row = {col["principle"]: principle.name(language), col["statement"]: statement.text(language),
               col["score"]: score.score}
        row.update({side_name[side]: side_statements[side][score.key].score for side in SIDES if groups[side]})
        row.update({col["answered"]: score.answered, col["dont_know"]: score.dont_know})
        rows.append(row)
    out["statements"] = text_table(pd.DataFrame(rows))

    if both:
        rows = []
        for gap in gap_table(fw, _responses):
            if gap.difference is None:
                continue
            what = (fw.statement_by_key[gap.key][1].text(language) if gap.kind == "statement"
                    else fw.step_by_id[gap.key].name(language))
            rows.append({col["kind"]: t(f"results.gap.{gap.kind}", language), col["what"]: what,
                         side_name["public"]: gap.public, side_name["civil_society"]: gap.civil_society,
                         col["difference"]: gap.difference})
        out["gaps"] = text_table(pd.DataFrame(rows[:10]), signed=col["difference"])

    out["advice"] = advice_texts(fw, _responses, extensions, language)
    out["yaml"] = "".join("---\n" + dump_response(r) for r in _responses)
    out["json"] = json.dumps([response_to_dict(r) for r in _responses], ensure_ascii=False, indent=2)
    return out
