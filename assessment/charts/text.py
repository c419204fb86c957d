"""Text alternatives of the charts: what each chart shows, in words.

To a screen reader a chart is an image. Every chart function passes its Altair chart through
``labelled`` with a description made here from the same rows it draws; Vega labels the drawn
chart with it (role "graphics-document", aria-label), so the values are read out, not only
seen. The shape is always "What the chart shows. Group: item, item; Group: item."
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import altair as alt

from ..i18n import number, t


def labelled(chart: alt.TopLevelMixin, description: str) -> alt.TopLevelMixin:
    """The chart with its text alternative, and its marks hidden from screen readers: the
    description says what they show (and Vega gives an empty mark layer, e.g. the filled
    cells of a heatmap nobody answered, the role of a graphic without a name, which fails
    WCAG 1.1.1). The axes keep the labels Vega gives them."""
    return chart.properties(description=description).configure_mark(aria=False)


def describe(title: str, groups: Iterable[tuple[str, Iterable[str]]]) -> str:
    parts = [f"{name}: {', '.join(items)}" if name else ", ".join(items) for name, items in groups]
    return f"{title}. " + "; ".join(part for part in parts if part) + "."


def _grouped(rows: Iterable[Mapping], group: str, item) -> list[tuple[str, list[str]]]:
    """Rows gathered by the value of `group`, in first-seen order, each row as item(row)."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row[group], []).append(item(row))
    return list(groups.items())


def radar(series_rows: Iterable[Mapping], median_rows: Iterable[Mapping], lang: str, series: str = "series") -> str:
    """Rows with the series (or unit), principle and score (charts.radar_data, compare_charts.radar_rows);
    median rows with principle, q1, median, q3 (charts.band_data)."""
    groups = _grouped(series_rows, series, lambda r: f"{r['principle']} {number(_score(r['score']), lang)}")
    band = [f"{r['principle']} {number(r['q1'], lang)}–{number(r['q3'], lang)}, {number(r['median'], lang)}"
            for r in median_rows]
    if band:
        groups.append((t("chart.radar.band", lang), band))
    return describe(t("chart.radar", lang), groups)


def level_heatmap(steps: Sequence[tuple[str, str, int]], lang: str) -> str:
    """(step name, level name, respondents) per step."""
    return describe(t("chart.heatmap", lang), [("", [
        f"{step} {level}" + (f" ({t('chart.answers', lang, n=answered)})" if answered > 1 else "")
        for step, level, answered in steps])])


def ranking(principle: str, rows: Iterable[Mapping], median: float | None, lang: str) -> str:
    """Rows with label ('1. Unit') and score (compare_charts.ranking_rows)."""
    items = [f"{r['label']} {number(r['score'], lang)}" for r in rows]
    if median is not None:
        items.append(f"{t('reg.stat.median', lang)} {number(median, lang)}")
    return describe(t("chart.ranking", lang, principle=principle), [("", items)])


def steps_across(rows: Iterable[Mapping], lang: str) -> str:
    """Rows with unit, step and level (compare_charts.heatmap_rows)."""
    return describe(t("chart.steps", lang), _grouped(rows, "unit", lambda r: f"{r['step']} {r['level']}"))


def trends(rows: Iterable[Mapping], lang: str) -> str:
    """Rows with principle, series, year and score (compare_charts.trend_rows)."""
    by_principle = _grouped(rows, "principle", lambda r: r)
    return describe(t("chart.trends", lang), [
        (principle, [f"{series} " + ", ".join(f"{r['year']} {number(r['score'], lang)}" for r in series_rows)
                     for series, series_rows in _grouped(items, "series", lambda r: r)])
        for principle, items in by_principle])


def counts(title_key: str, rows: Iterable[Mapping], group: str, label: str, lang: str) -> str:
    """Stacked bars: per group, each part's count (progress per status, votes per group)."""
    return describe(t(title_key, lang), _grouped(rows, group, lambda r: f"{r[label]} {r['count']}"))


def _score(value) -> float | None:
    # pandas hands a missing score over as NaN.
    return None if value is None or value != value else float(value)
