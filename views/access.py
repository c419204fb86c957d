"""Who is asking, for every page: the actor from the session's links and the signed-in identity.

Links arrive in the address: ``?c=`` coordinator, ``?v=`` results, ``?a=`` invite, ``?r=``
personal, ``?admin=`` administrator (taken out of the address once read). A workshop's
facilitator holds its secret in a session cookie (web/facilitator_link.py moves ``?s=`` of
the facilitator link there) or in the session (a workshop just created or reopened here).
The session keeps the links it was given, and every run checks each one against the
database again, so a revoked link stops working at once, also in a tab that is still open.
With sign-in configured (``[auth]`` in secrets.toml), Streamlit's ``st.login`` says who
someone is and the access file (assessment.access.signin) what they may do; the
administrator link is then switched off. Pages ask :func:`require` before they read or write anything.
"""

from __future__ import annotations

from functools import lru_cache

import streamlit as st

from assessment.access import links
from assessment.access.permissions import Actor, Resource, allowed
from assessment.access.signin import AccessMap, access_file, groups_of, load_access_map
from assessment.framework.yamlsource import SourceError
from assessment.i18n import t
from assessment.store.assessments import Assessments
from views.common import lang, repository, stop_with
from web.facilitator_link import CODE_PARAM, SECRET_PARAM, cookie_name

ADMIN_PARAM, COORDINATOR_PARAM, RESULTS_PARAM, INVITE_PARAM, PERSONAL_PARAM, KEY_PARAM = \
    "admin", "c", "v", "a", "r", "k"
LINK_PARAMS = (ADMIN_PARAM, COORDINATOR_PARAM, RESULTS_PARAM, INVITE_PARAM)
HELD = "_access_links"  # session: {"links": [token, ...], "personal": [token, ...]}
HELD_VALID = "_access_links_valid"  # session: the held links found valid on this run
PERSONAL_CHECKED = "_access_personal_checked"  # session: personal token -> (response key, assessment id)
FACILITATOR_HELD = "_access_facilitator"  # session: workshop code -> secret given in this session


def auth_configured() -> bool:
    """Whether sign-in is set up: an [auth] section in .streamlit/secrets.toml."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file, or one that does not parse: no sign-in
        return False


@lru_cache(maxsize=4)
def _access_map(path: str, mtime: float) -> AccessMap:
    return load_access_map(path)


def access_map() -> AccessMap:
    """The sign-in mapping, read again when the file changes; a broken file is shown, never used."""
    path = access_file()
    try:
        return _access_map(str(path), path.stat().st_mtime if path.exists() else 0.0)
    except SourceError as exc:
        st.error(t("access.file_error", lang(), problems=str(exc)))
        return AccessMap()


def hold(token: str, personal: bool = False) -> None:
    """Remember a link this session was given (e.g. one just made for it)."""
    held = st.session_state.setdefault(HELD, {"links": [], "personal": []})
    bucket = held["personal" if personal else "links"]
    if token and token not in bucket:
        bucket.append(token)


def _take_links_from_address() -> dict:
    for param in LINK_PARAMS:
        token = (st.query_params.get(param) or "").strip()
        if token:
            hold(token)
    personal = (st.query_params.get(PERSONAL_PARAM) or "").strip()
    if personal:
        hold(personal, personal=True)
    if ADMIN_PARAM in st.query_params:
        del st.query_params[ADMIN_PARAM]  # the administrator token leaves the address bar
    _take_facilitator_secret_from_address()
    return st.session_state.setdefault(HELD, {"links": [], "personal": []})


def hold_facilitator(code: str, secret: str) -> None:
    """Remember a workshop's secret for this session (a workshop just created or reopened here)."""
    st.session_state.setdefault(FACILITATOR_HELD, {})[_normalized(code)] = secret


def facilitator_cookie(code: str) -> str:
    """The secret of workshop `code` in this browser's session cookie, or ""."""
    value = st.context.cookies.get(cookie_name(_normalized(code)))
    return value.strip() if isinstance(value, str) else ""  # AppTest's context holds no real cookies


def facilitator_secret(code: str) -> str:
    """The secret this browser holds for workshop `code`: given in this session, else its cookie."""
    code = _normalized(code)
    if not code:
        return ""
    return st.session_state.get(FACILITATOR_HELD, {}).get(code) or facilitator_cookie(code)


def _take_facilitator_secret_from_address() -> None:
    # Normally web/facilitator_link.py has turned ?s= into a cookie before the page loads; a secret
    # that still arrives (a server started without it, AppTest) is held and taken out of the address.
    code, secret = st.query_params.get(CODE_PARAM), (st.query_params.get(SECRET_PARAM) or "").strip()
    if code and secret:
        hold_facilitator(code, secret)
    if code and SECRET_PARAM in st.query_params:
        del st.query_params[SECRET_PARAM]


def signed_in() -> tuple[str | None, list[str]] | None:
    """(e-mail, groups) of the signed-in person, or None."""
    if not auth_configured() or not st.user.get("is_logged_in"):
        return None
    claims = st.user.to_dict()
    return claims.get("email"), groups_of(claims)


RUN_ACTOR = "_access_actor_of_this_run"


def actor_for_this_run() -> Actor:
    """For app.py: the actor, worked out once per run; the page's current_actor() reuses it."""
    st.session_state[RUN_ACTOR] = actor = _resolve()
    return actor


def end_of_run() -> None:
    st.session_state.pop(RUN_ACTOR, None)


def current_actor() -> Actor:
    """The actor of this browser session: the one app.py worked out for this run, else afresh."""
    return st.session_state.get(RUN_ACTOR) or _resolve()


def _resolve() -> Actor:
    """Built afresh from what the session holds, every link checked again."""
    store = repository(Assessments)
    held = _take_links_from_address()
    grants: dict[str, set] = {name: set() for name in ("units", "coordinates", "results", "invited", "responses",
                                                        "facilitates")}
    administrator, identity = False, None
    sign_in = auth_configured()
    person = signed_in()
    if person is not None:
        identity = person[0]
        administrator, units = access_map().roles_for(*person)
        grants["units"] |= units
    valid = st.session_state[HELD_VALID] = {}  # token -> (kind, assessment id), for link_held
    for token in list(held["links"]):
        link = links.resolve(store, token)
        if link is None or (link.kind == links.ADMIN_LINK and sign_in):
            held["links"].remove(token)  # revoked or unknown: forgotten
            continue
        valid[token] = (link.kind, link.assessment_id)
        if link.kind == links.ADMIN_LINK:
            administrator = True
        elif link.kind == links.COORDINATOR_LINK:
            if link.unit is not None:
                grants["units"].add(link.unit)
            else:
                grants["coordinates"].add(link.assessment_id)
        elif link.kind == links.RESULTS_LINK:
            grants["results"].add(link.assessment_id)
        else:
            grants["invited"].add(link.assessment_id)
    # A personal link is never revoked (only its response deleted): checked once per session.
    checked = st.session_state.setdefault(PERSONAL_CHECKED, {})
    for token in list(held["personal"]):
        found = checked.get(token) or links.personal_link(store, token)
        if found is None:
            held["personal"].remove(token)
            continue
        checked[token] = found
        grants["responses"].add(found[0])
    code = _normalized(st.query_params.get(CODE_PARAM))
    secret = facilitator_secret(code)
    if code and secret and _facilitator_secret_holds(code, secret):
        grants["facilitates"].add(code)
    # The setting matters only to coordinators (the administrator sees names anyway): read only then.
    published = not administrator and bool(grants["units"] or grants["coordinates"]) and \
        bool(links.setting(store, links.NAMED_COMPARISON, False))
    return Actor(administrator=administrator, identity=identity, named_comparison_published=published,
                 **{name: frozenset(values) for name, values in grants.items()})


def _normalized(code: str | None) -> str:
    from assessment.workshop.repository import normalize_code

    return normalize_code(code)


def _facilitator_secret_holds(code: str, secret: str) -> bool:
    from assessment.workshop.control import WorkshopControl
    from assessment.workshop.errors import WorkshopError
    from views.workshop_common import workshop_repository

    try:
        return workshop_repository(WorkshopControl).check_secret(_normalized(code), secret)
    except WorkshopError:
        return False


def require(actor: Actor, action: str, resource: Resource | None = None, refusal: str | None = None) -> None:
    """Go on only if `actor` may do `action` on `resource`; else one clear message and the page ends."""
    if not allowed(actor, action, resource):
        stop_with(t(refusal or f"access.refused.{action}", lang()))


def link_held(kind: str, assessment_id: int) -> str | None:
    """A link of this kind to the assessment that this session holds (to show it to its holder)."""
    return next((token for token, found in st.session_state.get(HELD_VALID, {}).items()
                 if found == (kind, assessment_id)), None)


def held_assessment(actor: Actor, *grants: str) -> int | None:
    """An assessment this session holds a link to (e.g. "coordinates"), for a page opened from the menu."""
    ids = sorted(set().union(*(getattr(actor, grant) for grant in grants)))
    return ids[0] if ids else None


def coordinated_units(assessments: Assessments, actor: Actor) -> frozenset[str]:
    """The units whose data this actor coordinates: by unit, or through one assessment's link."""
    found = (assessments.assessment_by_id(i) for i in actor.coordinates)
    return actor.units | {info.unit for info in found if info is not None}


# --- the sidebar: who you are, sign in and out ---------------------------------------------------

def _provider() -> str | None:
    """The provider to sign in with: the [auth] section itself, or its first named provider."""
    section = st.secrets["auth"]
    if "client_id" in section:
        return None
    return next((name for name, value in section.items() if hasattr(value, "keys")), None)


def identity_panel(actor: Actor) -> None:
    L = lang()
    role = t(f"access.role.{actor.role}", L)
    if auth_configured():
        if st.user.get("is_logged_in"):
            # Plain text, not a caption: markdown would make the e-mail address a mailto link, and a
            # caption fades links below 4.5:1 contrast (axe, tests/test_browser_signin.py).
            st.sidebar.text(t("access.signed_in_as", L, who=st.user.get("email") or "?", role=role))
            st.sidebar.button(t("access.sign_out", L), on_click=st.logout, key="access_sign_out")
        else:
            st.sidebar.button(t("access.sign_in", L), on_click=st.login, args=(_provider(),), key="access_sign_in")
    elif actor.role != "anonymous":
        st.sidebar.caption(t("access.you_are", L, role=role))
