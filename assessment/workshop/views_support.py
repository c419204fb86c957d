"""What the live workshop pages draw, computed without streamlit: links, tally bars, charts.

Kept out of views/ so it can be tested directly. The vote colours come from the
colour-blind-safe palette; every bar also carries an icon and a number, so the
result never depends on telling green from red.
"""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit

import altair as alt
import pandas as pd

from ..charts import text as chart_text
from ..charts.scores import BAND_COLOUR, PALETTE
from ..i18n import t
from .tallies import GROUPS, VOTE_VALUES, Counts, Tally

VOTE_ICONS = {"agree": "✅", "disagree": "❌", "pass": "➖"}
# Inside a coloured bar segment: plain glyphs in white keep their contrast (a red ❌ on vermillion does not).
VOTE_GLYPHS = {"agree": "✓", "disagree": "✗", "pass": "–"}
# Okabe-Ito bluish green and vermillion stand in for the green and red cards; passes are grey.
VOTE_COLOURS = {"agree": PALETTE[2], "disagree": PALETTE[5], "pass": BAND_COLOUR}
TEXT_ON = {"agree": "#ffffff", "disagree": "#ffffff", "pass": "#111111"}
GROUP_ICONS = {"overall": "👥", "public": "🏛️", "civil_society": "🤝"}
PUBLIC_URL_ENV = "ASSESSMENT_PUBLIC_URL"


# --- links ---------------------------------------------------------------------------------

def public_base_url(configured: str | None, host: str | None, scheme: str | None = None,
                    path_prefix: str = "") -> str:
    """The address phones should open: the configured public URL, else what the browser used.

    ``configured`` is ASSESSMENT_PUBLIC_URL (e.g. behind a proxy); a value that is not an
    http(s) address raises ValueError naming the variable. Without it, the Host header
    of the facilitator's request (and X-Forwarded-Proto as scheme) is used.
    """
    configured = (configured or "").strip()
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"{PUBLIC_URL_ENV}={configured!r} is not a web address like "
                             f"https://samverkan.example.se (http or https, no ?query)")
        return configured.rstrip("/")
    host = (host or "").strip()
    if not host:
        host = "localhost:8501"
    scheme = (scheme or "").split(",")[0].strip().lower()
    scheme = scheme if scheme in ("http", "https") else "http"
    prefix = path_prefix.strip("/")
    return f"{scheme}://{host}" + (f"/{prefix}" if prefix else "")


def join_url(base: str, code: str, lang: str | None = None) -> str:
    """The link for the screen and the QR code (the light phone page); an English workshop
    opens in English."""
    params = {"code": code}
    if lang and lang != "sv":
        params["lang"] = lang
    return f"{base.rstrip('/')}/phone?{urlencode(params)}"


def facilitator_url(base: str, code: str, secret: str, lang: str | None = None) -> str:
    params = {"w": code, "s": secret}
    if lang and lang != "sv":
        params["lang"] = lang
    return f"{base.rstrip('/')}/facilitate?{urlencode(params)}"


def spaced_code(code: str) -> str:
    """'K7Q2MX' -> 'K7Q 2MX': easier to read off a screen at the back of a cinema."""
    return f"{code[:3]} {code[3:]}" if len(code) == 6 else code


# --- live tally bars (HTML) ----------------------------------------------------------------

def percent_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} %"


def vote_label(value: str, lang: str) -> str:
    return f"{VOTE_ICONS[value]} {t(f'ws.vote.{value}', lang)}"


def tally_bar_html(counts: Counts, group: str, lang: str, big: bool = False) -> str:
    """One labelled stacked bar: agree / disagree / pass with counts and percentages.

    Shares are of all votes (passes included), so the three segments fill the bar.
    A segment's number is printed inside it when it is wide enough, and always in the
    line below the bar.
    """
    name = html.escape(f"{GROUP_ICONS[group]} {t(f'ws.group.{group}', lang)}")
    total = counts.total
    votes = html.escape(t("ws.tally.votes", lang, n=total))
    segments = []
    for value in VOTE_VALUES:
        n, share = counts.get(value), counts.share(value)
        if not n:
            continue
        inside = f"{VOTE_GLYPHS[value]} {n}" if share and share >= 12 else ""
        segments.append(
            f'<div class="ws-seg ws-seg-{value}" style="width:{share}%;background:{VOTE_COLOURS[value]};'
            f'color:{TEXT_ON[value]}" title="{html.escape(vote_label(value, lang))}: {n}">{inside}</div>')
    if not segments:
        segments.append(f'<div class="ws-seg ws-seg-empty">{html.escape(t("ws.tally.no_votes", lang))}</div>')
    legend = " · ".join(
        f'<span class="ws-num ws-num-{value}" data-value="{value}" data-count="{counts.get(value)}">'
        f"{html.escape(vote_label(value, lang))} <b>{counts.get(value)}</b> ({percent_text(counts.share(value))})</span>"
        for value in VOTE_VALUES)
    size = " ws-big" if big else ""
    return (f'<div class="ws-tally{size}" data-group="{group}" data-total="{total}">'
            f'<div class="ws-tally-head"><span class="ws-group">{name}</span>'
            f'<span class="ws-votes">{votes}</span></div>'
            f'<div class="ws-bar">{"".join(segments)}</div>'
            f'<div class="ws-legend">{legend}</div></div>')


def tally_html(tally: Tally, lang: str, big: bool = False) -> str:
    return "".join(tally_bar_html(tally.side(group), group, lang, big) for group in GROUPS)


TALLY_CSS = """
<style>
.ws-tally { margin: 0.2rem 0 0.9rem 0; }
.ws-tally-head { display: flex; justify-content: space-between; font-size: 1.05rem; font-weight: 600; }
.ws-bar { display: flex; height: 2.1rem; border-radius: 6px; overflow: hidden; background: #eeeeee;
          border: 1px solid #cccccc; }
.ws-seg { display: flex; align-items: center; justify-content: center; font-weight: 700;
          font-size: 1rem; white-space: nowrap; overflow: hidden; }
.ws-seg-empty { width: 100%; color: #555555; font-weight: 400; }
.ws-legend { font-size: 0.95rem; margin-top: 0.25rem; }
.ws-big .ws-tally-head { font-size: 1.45rem; }
.ws-big .ws-bar { height: 3.1rem; }
.ws-big .ws-seg { font-size: 1.45rem; }
.ws-big .ws-legend { font-size: 1.2rem; }
</style>
"""


# --- summary chart (Altair) ----------------------------------------------------------------

def tally_frame(tally: Tally, lang: str) -> pd.DataFrame:
    """Rows (group, vote) with count, share and the segment's start/end on a 0-100 axis."""
    rows = []
    for group in GROUPS:
        counts = tally.side(group)
        start = 0.0
        group_label = f"{t(f'ws.group.{group}', lang)} (n={counts.total})"
        for value in VOTE_VALUES:
            n = counts.get(value)
            share = n / counts.total * 100 if counts.total else 0.0
            rows.append({"group": group, "group_label": group_label, "vote": value,
                         "vote_label": vote_label(value, lang), "count": n, "share": round(share, 1),
                         "start": start, "end": start + share, "mid": start + share / 2,
                         "text": f"{VOTE_GLYPHS[value]} {n} ({share:.0f} %)" if share >= 14 else
                                 (f"{n}" if share >= 5 else "")})
            start += share
    return pd.DataFrame(rows)


def tally_chart(tally: Tally, lang: str, width: int = 560) -> alt.LayerChart:
    """One statement: a stacked bar per group (everyone, public, civil society)."""
    data = tally_frame(tally, lang)
    order = list(dict.fromkeys(data["group_label"]))
    labels = [vote_label(v, lang) for v in VOTE_VALUES]
    y = alt.Y("group_label:N", sort=order, title=None, axis=alt.Axis(labelFontSize=13, labelLimit=260))
    x = alt.X("start:Q", scale=alt.Scale(domain=[0, 100]), title=t("ws.summary.share_axis", lang),
              axis=alt.Axis(values=[0, 25, 50, 75, 100], labelExpr="datum.value + ' %'"))
    colour = alt.Color("vote_label:N", title=None, sort=labels,
                       scale=alt.Scale(domain=labels, range=[VOTE_COLOURS[v] for v in VOTE_VALUES]),
                       legend=alt.Legend(orient="bottom", labelFontSize=13))
    tooltip = [alt.Tooltip("group_label:N", title=t("ws.summary.group", lang)),
               alt.Tooltip("vote_label:N", title=t("ws.summary.vote", lang)),
               alt.Tooltip("count:Q", title=t("ws.summary.count", lang)),
               alt.Tooltip("share:Q", title="%")]
    base = alt.Chart(data).encode(y=y)
    bars = base.transform_filter("datum.count > 0").mark_bar(stroke="white", strokeWidth=1).encode(
        x=x, x2="end:Q", color=colour, tooltip=tooltip)
    text = base.transform_filter("datum.text != ''").mark_text(fontSize=13, fontWeight="bold").encode(
        x="mid:Q", text="text:N",
        color=alt.Color("vote:N", scale=alt.Scale(domain=list(VOTE_VALUES),
                                                  range=[TEXT_ON[v] for v in VOTE_VALUES]), legend=None))
    # Independent colour scales: the text colour (white or black) must not join the vote legend.
    # autosize "pad": Streamlit fits legend and axis titles inside `height` otherwise, squashing the bars.
    return chart_text.labelled(
        alt.layer(bars, text).resolve_scale(color="independent")
        .properties(width=width, height=36 * len(GROUPS), autosize=alt.AutoSizeParams(type="pad"))
        .configure_view(stroke=None),
        chart_text.counts("chart.tally", data.to_dict("records"), "group_label", "vote_label", lang))
