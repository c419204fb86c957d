"""Export and import: one assessment, one unit or the whole database, as JSON or CSV.

Imports are checked whole (every file, every row) before anything is written;
one problem anywhere means nothing is imported and every problem is listed with
its file, row and field. Natural keys make a repeated import change nothing.

Coordinators export their own assessments and units; the administrator everything, and
only the administrator imports (each import is logged).
"""

from __future__ import annotations

import functools
import re

import streamlit as st

from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.access.writes import import_file
from assessment.exchange.export import export_csv, export_json
from assessment.exchange.parse import parse_import
from assessment.exchange.records import ImportSummary
from assessment.framework import limits
from assessment.framework.yamlsource import SourceError
from assessment.i18n import t
from assessment.regional import followup as fs
from assessment.store.assessments import Assessments
from views.access import current_actor
from views.common import database, framework, lang, repository

MAX_PROBLEMS_SHOWN = 60

L = lang()
fw = framework()
engine = database()
actor = current_actor()
st.title(t("reg.data.title", L))
st.caption(t("reg.data.intro", L))


def safe_name(text: str) -> str:
    """A file name from a unit name: letters (å ä ö too), digits, dot and dash; the rest as '_'."""
    return re.sub(r"[^\w.-]+", "_", text).strip("_").replace("__", "_") or "export"


# --- export ----------------------------------------------------------------------------------

st.header(t("reg.data.export", L))
assessments = [a for a in repository(Assessments).list_assessments() if allowed(actor, p.EXPORT_DATA, Resource.of_assessment(a))]
unit_names = sorted({a.unit for a in assessments if allowed(actor, p.EXPORT_DATA, Resource(unit=a.unit))})
if not assessments:
    st.info(t("reg.data.empty", L))
else:
    scopes = ("assessment",) + (("unit",) if unit_names else ()) + \
        (("all",) if allowed(actor, p.EXPORT_DATA, Resource()) else ())
    c1, c2 = st.columns([2, 3])
    scope = c1.radio(t("reg.data.scope", L), scopes, format_func=lambda s: t(f"reg.data.scope.{s}", L),
                     key="exp_scope")
    options: dict = {}
    if scope == "assessment":
        by_token = {a.token: a for a in sorted(assessments, key=lambda a: (a.unit, -a.year, a.case or ""))}
        token = c2.selectbox(t("reg.data.scope.assessment", L), list(by_token), key="exp_assessment",
                             format_func=lambda k: f"{by_token[k].unit} {by_token[k].year}"
                             + (f" ({by_token[k].case})" if by_token[k].case else ""))
        options = {"assessment": token}
        stem = f"{by_token[token].unit}_{by_token[token].year}"
    elif scope == "unit":
        unit = c2.selectbox(t("reg.data.scope.unit", L), unit_names, key="exp_unit")
        options = {"unit": unit}
        stem = unit
    else:
        stem = "assessment_export"
    f1, f2 = st.columns([2, 3])
    fmt = f1.radio(t("reg.data.format", L), ("json", "csv"), format_func=str.upper, horizontal=True,
                   key="exp_format")
    if fmt == "csv":
        delimiter = f2.radio(t("reg.data.delimiter", L), (",", ";"), horizontal=True, key="exp_delimiter",
                             format_func=lambda d: t("reg.data.comma" if d == "," else "reg.data.semicolon", L))
        make = functools.partial(export_csv, engine, fw, delimiter=delimiter, **options)
        mime = "text/csv"
    else:
        make = functools.partial(export_json, engine, fw, **options)
        mime = "application/json"
        st.caption(t("reg.data.json_note", L))
    st.caption(t("reg.data.personal_note", L))
    # Made when clicked: a whole database can be large.
    st.download_button(t("reg.data.download", L), data=make, file_name=f"{safe_name(stem)}.{fmt}", mime=mime,
                       key="exp_download", type="primary", on_click="ignore")

# --- import ----------------------------------------------------------------------------------

if not allowed(actor, p.IMPORT_DATA):  # the rest of the page is the administrator's
    st.stop()
st.header(t("reg.data.import", L))
files = st.file_uploader(t("reg.data.files", L), type=["json", "csv"], accept_multiple_files=True,
                         key="imp_files", max_upload_size=limits.IMPORT_MAX_BYTES // limits.MB,
                         help=t("reg.data.files_help", L, mb=limits.IMPORT_MAX_BYTES // limits.MB))


def show_problems(problems: list) -> None:
    lines = [f"- `{problem}`" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"- {t('reg.data.more_problems', L, n=len(problems) - MAX_PROBLEMS_SHOWN)}")
    st.error(t("reg.data.rejected", L, n=len(problems)) + "\n\n" + "\n".join(lines))


def agreement_state() -> dict:
    """Stored agreements and follow-ups, to tell what an import really changed.

    (The import reports how many it wrote, and it writes them again on every import.)
    """
    state: dict = {("agreement", a.id): a.to_data() for a in fs.list_agreements(engine)}
    state.update({(f.agreement_id, f.commitment_id, f.year): (f.status, f.note) for f in fs.followups(engine)})
    return state


def summary_text(name: str, summary: ImportSummary, before: dict, after: dict) -> tuple[bool, str]:
    """(anything new?, one line describing what the import did)."""
    changed = [key for key, value in after.items() if before.get(key) != value]
    new = {
        "units": summary.units_added, "assessments": summary.assessments_added,
        "responses": summary.responses_added, "replaced": summary.responses_replaced,
        "agreements": sum(1 for key in changed if key[0] == "agreement"),
        "followups": sum(1 for key in changed if key[0] != "agreement"),
    }
    if not any(new.values()):
        return False, t("reg.data.nothing_new", L, file=name, unchanged=summary.responses_unchanged)
    parts = [t(f"reg.data.count.{k}", L, n=v) for k, v in new.items() if v]
    if summary.responses_unchanged:
        parts.append(t("reg.data.count.unchanged", L, n=summary.responses_unchanged))
    return True, f"{name}: " + ", ".join(parts)


if files and st.button(t("reg.data.do_import", L), type="primary", key="imp_go"):
    # Check every file first: one bad file means nothing at all is imported.
    problems = []
    for upload in files:
        try:
            parse_import(upload.getvalue(), upload.name, fw)
        except SourceError as exc:
            problems.extend(exc.problems)
    if problems:
        show_problems(problems)
    else:
        for upload in files:
            before = agreement_state()
            try:
                summary = import_file(engine, fw, actor, upload.getvalue(), upload.name)
            except SourceError as exc:
                show_problems(list(exc.problems))
                continue
            except ValueError as exc:
                st.error(t("reg.data.import_failed", L, file=upload.name, reason=str(exc)))
                continue
            changed, line = summary_text(upload.name, summary, before, agreement_state())
            (st.success if changed else st.info)(line)
