"""The server: the Streamlit app (app.py) plus the light phone path, on one port.

A live workshop has hundreds of phones; a Streamlit session for each costs one script run
per phone per poll, which a full room cannot afford. ``st.App`` runs the same Streamlit
pages on an ASGI server and lets us add plain routes beside them: the phone page and its
JSON/Server-Sent-Events API (web/), and the middleware that takes the facilitator's secret
out of the address bar. Start it like the app: ``streamlit run serve.py`` (make run).
"""

import streamlit as st
from starlette.middleware import Middleware

from web.facilitator_link import FacilitatorLinkMiddleware
from web.phone_api import lifespan
from web.phone_routes import routes

# Most systems allow a process 1,024 open files unless it asks for more.
OPEN_FILES_WANTED = 65536


def allow_a_connection_per_phone() -> None:
    """Every listening phone holds a connection, i.e. an open file: raise the soft limit
    (often 1,024) as far as the system's hard limit lets us."""
    try:
        import resource
    except ImportError:  # not on Unix: nothing to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


allow_a_connection_per_phone()
app = st.App("app.py", routes=routes(), middleware=[Middleware(FacilitatorLinkMiddleware)], lifespan=lifespan)
