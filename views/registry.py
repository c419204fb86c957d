"""Every page of the app with the action it needs: navigation checks it before a page runs.

app.py builds the navigation from this list only, so a page cannot be added without
naming its action (tests/test_access_pages.py checks that each one is a known action).
A page is listed in the menu when its action is allowed on anything at all; opened by
its address without that, it shows one refusal instead of running. Within a page, the
page asks again for the one assessment, unit or workshop it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

from assessment.access import permissions as p


@dataclass(frozen=True)
class PageEntry:
    script: str
    title_key: str
    icon: str
    url_path: str
    section_key: str
    action: str
    default: bool = False


ASSESS, WORKSHOP, REGION = "nav.section.assess", "nav.section.workshop", "nav.section.region"

PAGES = (
    PageEntry("views/home.py", "nav.home", "🏠", "home", ASSESS, p.VIEW_HOME, default=True),
    PageEntry("views/questionnaire.py", "nav.questionnaire", "📝", "questionnaire", ASSESS, p.ANSWER),
    PageEntry("views/results.py", "nav.results", "📊", "results", ASSESS, p.VIEW_RESULTS),
    PageEntry("views/coordinate.py", "nav.coordinate", "🔑", "coordinate", ASSESS, p.COORDINATE),
    PageEntry("views/workshop_facilitate.py", "nav.facilitate", "🎤", "facilitate", WORKSHOP, p.RUN_WORKSHOP),
    PageEntry("views/workshop_join.py", "nav.join", "📱", "join", WORKSHOP, p.JOIN_WORKSHOP),
    PageEntry("views/compare.py", "nav.compare", "🗺️", "compare", REGION, p.COMPARE_REGION),
    PageEntry("views/followup.py", "nav.followup", "✅", "followup", REGION, p.FOLLOW_UP),
    PageEntry("views/data.py", "nav.data", "💾", "data", REGION, p.EXPORT_DATA),
    PageEntry("views/admin.py", "nav.admin", "🛡️", "admin", REGION, p.ADMINISTER),
)
