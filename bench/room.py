"""The full room: N phones in one live workshop, through the real server, as the phones live it.

    .venv/bin/python bench/room.py --phones 213 [--database sqlite|postgresql] [--cards 3]
    .venv/bin/python bench/room.py --phones 213 --old [REV]      # the old Streamlit phone page

The server is started as ``make run`` starts it (``streamlit run serve.py --server.headless true
--server.port P --browser.gatherUsageStats false``) in its own process, on a throwaway database: a
SQLite file in a temp dir, or a throwaway PostgreSQL (tests/pg_server.py). The workshop (Burlöv deck,
Swedish) is created on that database before the server starts.

This process drives the phones over the network (asyncio + aiohttp; each phone its own connection
pool of at most 6 connections, as a browser keeps per host, so the event stream holds one and the
requests reuse another). The phones come from loopback source addresses, 213 to an address
(``--phones-per-address``): a full room behind one NAT, as the server's per-address join limit must
allow, and a larger crowd from several networks. Joins are spread over 30 s. A phone does what
web/static/phone.js does from the QR link: loads the page and the files it names, looks the code up
(``GET /phone/api/state``), joins (``POST /phone/api/join``, sides mixed, a third with a role), reads
its own state with its token and listens to ``/phone/api/events`` (Server-Sent Events). Joined = the
first state event arrived.

The facilitator plays from this process through ``WorkshopControl`` on the same database: that is
what the facilitator's screen writes, so the phones cannot tell the difference. Per card: open it
(T0, just before the call); each phone notes when the event showing the card open arrives
(statement visible), votes after a human delay of 0.2–3 s, and about 20 % change their vote once
after another 0.5–2 s; vote latency is the POST until its 200 (sent only after the commit). When
every vote is confirmed, the facilitator's tally (``WorkshopControl.facilitator_state``, what the
facilitator's screen reads) is polled until it counts every voter: that lag is timed from the last
confirmation. Then close, reveal, next card.

Idle CPU: with every phone connected and nothing happening, the server process's CPU time over 5 s
(/proc utime + stime, its children included) as % of one core; on PostgreSQL the database's own
processes are shown on the line before.

At the end every phone's last confirmed vote is compared with the database: lost = a confirmed vote
missing or different (unless a later, unconfirmed attempt of that phone explains it), duplicated =
more than one row per participant and card, or more rows on a card than phones that voted on it.

``--old [REV]`` (default 622ed61, the last commit before the phone page) runs the same room against
the old Streamlit phone page: a temporary ``git worktree`` of REV (removed at the end) serves its
``app.py`` with this venv, and each phone is a real Streamlit session over its websocket
(bench/streamlit_client.py) re-running the page's fragment every 2 s as the browser does and tapping
the vote buttons. The old page joins through a form in the same session; here the participant is
created with REV's ``WorkshopVoting.join`` before the run and the phone opens ``/join?code=…&p=<token>``,
the link the form leads to, so joined = the first full page run arrived. A vote is confirmed when
the page shows it saved; a person who sees no "saved" after 10 s taps again (Streamlit can drop a
click that lands while runs are queued), counted as taps_repeated. The old page is slow at size:
a phone that has not joined (or seen a card) after 120 s is given up, counted at 120 s, and the line
before the last says joined=x/N.

The last line is
``phones=N join_p95_s=… card_p95_s=… vote_p95_ms=… tally_lag_s=… lost=0 duplicated=0 idle_cpu_pct=…``
(tally_lag_s: the worst card); the exit status is 1 when a vote was lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from streamlit_client import StreamlitSession  # noqa: E402  (bench/ is this script's directory)

from assessment.store.engine import make_engine  # noqa: E402
from assessment.store.tables import workshop_votes, workshops  # noqa: E402
from assessment.workshop.control import WorkshopControl  # noqa: E402
from assessment.workshop.tallies import ROLES  # noqa: E402
from assessment.workshop.voting import WorkshopVoting  # noqa: E402
from pg_server import PostgresServer, free_port  # noqa: E402

STREAMLIT = REPO / ".venv" / "bin" / "streamlit"
OLD_REV = "622ed61"
LANG = "sv"  # the workshop's language; the phone page asks every API URL in it
VALUES = ("agree", "disagree", "pass")
GIVE_UP_S = 120.0
HUMAN_DELAY_S = (0.2, 3.0)
CHANGE_DELAY_S = (0.5, 2.0)
CHANGE_SHARE = 0.2
IDLE_SECONDS = 5.0
RETAP_AFTER_S = 10.0  # old page: how long a person waits for "saved" before tapping again
ASSET = re.compile(r'(?:src|href)="([^"]+\.(?:js|css|woff2|png|svg|ico))"')

# Run with the tree under test first on sys.path (the old worktree, or this one): creates the
# schema and the workshop, joins the old page's participants, and hands back what the phones
# must recognise on the page, in that tree's own words.
SETUP = r"""
import html, json, sys
from datetime import date
import assessment
from assessment.i18n import t
from assessment.store.engine import make_engine
from assessment.store.migrations import init_db
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import DECKS_DIR, load_deck
from assessment.workshop.views_support import vote_label
from assessment.workshop.voting import WorkshopVoting
url, lang, participants = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
engine = make_engine(url)
init_db(engine)
deck = load_deck(DECKS_DIR / "burlov.yaml")
code, secret = WorkshopControl(engine).create_workshop("Bench room", "Bench", date.today(), lang, deck)
voting = WorkshopVoting(engine)
print(json.dumps({
    "code": code, "secret": secret, "module": assessment.__file__,
    "cards": [{"id": c.id, "html": html.escape(c.text(lang))} for c in deck.cards],
    "tokens": [voting.join(code, side, role) for side, role in participants],
    "your_vote": {v: t("ws.join.your_vote", lang, vote=vote_label(v, lang)) for v in ("agree", "disagree", "pass")},
}))
"""


def source_address(network: int) -> str:
    """A loopback address of its own per network the phones come from (Linux routes all of 127/8 to lo)."""
    return f"127.1.{network // 250}.{network % 250 + 1}"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def sides_and_roles(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Half each side; about a third of the phones pick a role."""
    chosen = []
    for i in range(count):
        side = "public" if i % 2 else "civil_society"
        chosen.append((side, rng.choice(ROLES[side]) if rng.random() < 1 / 3 else ""))
    return chosen


# --- the server and its database ----------------------------------------------------------

class Server:
    """``streamlit run <script>`` in its own process group, logging to a file."""

    def __init__(self, cwd: Path, script: str, port: int, env: dict[str, str], log: Path, extra: list[str]):
        clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ASSESSMENT_DB", "PYTHONPATH")}
        command = [str(STREAMLIT), "run", script, "--server.headless", "true", "--server.port", str(port),
                   "--browser.gatherUsageStats", "false", *extra]
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        with open(log, "w") as out:
            self.process = subprocess.Popen(command, cwd=cwd, env={**clean, "PYTHONPATH": str(cwd), **env},
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not answer within 90 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process, its reaped children and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "; fields[0] is the state
        pid = int(entry)
        parents[pid] = int(fields[1])
        reaped = int(fields[13]) + int(fields[14]) if pid == root else 0
        times[pid] = (int(fields[11]) + int(fields[12]) + reaped) / tick
    total = 0.0
    for pid, spent in times.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += spent
    return total


# --- the phones -----------------------------------------------------------------------------

@dataclass
class Phone:
    index: int
    side: str
    role: str
    token: str | None = None
    http: aiohttp.ClientSession | None = None
    join_s: float | None = None
    seen_s: dict[str, float] = field(default_factory=dict)  # card -> statement visible after open
    vote_ms: list[float] = field(default_factory=list)
    confirmed: dict[str, str] = field(default_factory=dict)  # card -> last confirmed value
    attempted: dict[str, set[str]] = field(default_factory=dict)  # card -> every value sent
    # card -> values sent after the last confirmed one that got no confirmation: may or may not be stored
    unconfirmed: dict[str, set[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def open_http(self, source_address: str) -> aiohttp.ClientSession:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=6, local_addr=(source_address, 0)),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
            headers={"User-Agent": "Mozilla/5.0 (bench/room.py phone)", "Accept-Language": "sv-SE,sv;q=0.9"})
        return self.http

    async def load_page(self, url: str) -> None:
        """The page and the static files it names, fetched in parallel as a browser does."""
        async with self.http.get(url) as response:
            response.raise_for_status()
            page = await response.text()

        async def fetch(path: str) -> None:
            async with self.http.get(urljoin(url, path)) as asset:
                asset.raise_for_status()
                await asset.read()

        await asyncio.gather(*(fetch(path) for path in dict.fromkeys(ASSET.findall(page))))


class ApiPhone(Phone):
    """A phone on the new phone page: JSON over HTTP and one event stream."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.base = ""
        self.code = ""
        self.open_at: dict[str, asyncio.Future] = {}
        self.first_state: asyncio.Future | None = None
        self.listener: asyncio.Task | None = None

    def card_open(self, card_id: str) -> asyncio.Future:
        if card_id not in self.open_at:
            self.open_at[card_id] = asyncio.get_running_loop().create_future()
        return self.open_at[card_id]

    async def join(self, base: str, code: str) -> None:
        """What phone.js does from the QR link: look the code up, join, read its own state, listen."""
        self.base, self.code = base, code
        await self.load_page(f"{base}/phone?code={code}")
        await self.api("GET", "state", code=code)
        answer = await self.api("POST", "join", {"code": code, "side": self.side, "role": self.role})
        self.token = answer["token"]
        await self.api("GET", "state", code=code)
        self.first_state = asyncio.get_running_loop().create_future()
        self.listener = asyncio.create_task(self.listen())
        await self.first_state

    async def api(self, method: str, path: str, body: dict | None = None, **query: str) -> dict:
        headers = {"Accept": "application/json", **(self.auth if self.token else {})}
        async with self.http.request(method, f"{self.base}/phone/api/{path}", params={**query, "lang": LANG},
                                     json=body, headers=headers) as response:
            answer = await response.json()
            if response.status not in (200, 201):
                raise RuntimeError(f"{method} {path} answered {response.status}: {answer}")
            return answer

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def listen(self) -> None:
        try:
            async with self.http.get(f"{self.base}/phone/api/events", params={"code": self.code, "lang": LANG},
                                     headers={"Accept": "text/event-stream"}) as response:
                response.raise_for_status()
                event, data = "", []
                async for raw in response.content:
                    line = raw.decode().rstrip("\r\n")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif not line and data:
                        if event in ("", "state"):
                            self.on_state(json.loads("\n".join(data)), time.monotonic())
                        event, data = "", []
        except (aiohttp.ClientError, ConnectionError, ValueError) as exc:
            self.errors.append(f"event stream: {type(exc).__name__}: {exc}")
        if self.first_state and not self.first_state.done():
            self.first_state.set_exception(ConnectionError("the event stream ended before a state"))

    def on_state(self, state: dict, now: float) -> None:
        if not self.first_state.done():
            self.first_state.set_result(now)
        card = state.get("card") or {}
        if card.get("status") == "open":
            future = self.card_open(card["id"])
            if not future.done():
                future.set_result(now)

    async def vote(self, card_id: str, value: str) -> bool:
        answer = await self.api("POST", "vote", {"card_id": card_id, "value": value})
        return answer.get("saved") is True and answer.get("value") == value

    async def close(self) -> None:
        if self.listener:
            self.listener.cancel()
            await asyncio.gather(self.listener, return_exceptions=True)


class OldPhone(Phone):
    """A phone on the old Streamlit page: one Streamlit session over its websocket."""

    def __init__(self, *args, setup: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup = setup
        self.session: StreamlitSession | None = None
        self.statement = ""  # the last statement the page drew
        self.retaps = 0

    async def join(self, base: str, code: str) -> None:
        url = f"{base}/join?code={code}&p={self.token}"
        await self.load_page(url)
        for probe in ("/_stcore/health", "/_stcore/host-config"):  # the browser asks both before connecting
            async with self.http.get(base + probe) as response:
                await response.read()
        self.session = StreamlitSession(self.http, url)
        page_done = self.session.watch(lambda seen: seen.kind == "finished" and seen.text == "FINISHED_SUCCESSFULLY")
        self.session.listeners.append(self.note_statement)
        await self.session.connect()
        await page_done

    def note_statement(self, seen) -> None:
        if seen.kind == "html" and "ws-phone-statement" in seen.text:
            self.statement = seen.text

    def card_open(self, card_id: str) -> asyncio.Future:
        text = next(card["html"] for card in self.setup["cards"] if card["id"] == card_id)
        # The vote buttons are drawn only while the card is open, right after its statement.
        return self.session.watch(lambda seen: seen.kind == "button" and seen.text.endswith("-ws_vote_agree")
                                  and f">{text}</div>" in self.statement)

    async def vote(self, card_id: str, value: str) -> bool:
        saved_text = self.setup["your_vote"][value]
        saved = self.session.watch(lambda seen: seen.kind == "alert" and seen.text == saved_text)
        await self.session.click(f"ws_vote_{value}")
        # Streamlit can drop a click that lands while runs are queued; a person who sees no
        # "saved" taps again. Counted, so the line before the last shows how often.
        while not saved.done():
            try:
                await asyncio.wait_for(asyncio.shield(saved), RETAP_AFTER_S)
            except asyncio.TimeoutError:
                self.retaps += 1
                await self.session.click(f"ws_vote_{value}")
        await saved
        return True

    async def close(self) -> None:
        if self.session:
            errors = self.session.errors
            await self.session.close()
            self.errors.extend(errors)


# --- the room -----------------------------------------------------------------------------

class Room:
    """The phones, the facilitator, and what they measured."""

    def __init__(self, args, setup: dict, people: list[tuple[str, str]], server: Server, engine: sa.Engine,
                 db_pid: int | None):
        self.args, self.setup, self.server, self.engine, self.db_pid = args, setup, server, engine, db_pid
        self.control = WorkshopControl(engine)
        self.rng = random.Random(args.seed)
        self.cards = [card["id"] for card in setup["cards"][:args.cards]]
        self.tally_lag_s: list[float] = []
        self.idle_cpu_pct = self.db_idle_cpu_pct = 0.0
        self.loop_lag_ms: list[float] = []
        self.bench_cpu_pct = 0.0  # this process: it must not be what limits the figures
        if args.old is not None:
            self.phones: list[Phone] = [OldPhone(i, side, role, token=setup["tokens"][i], setup=setup)
                                        for i, (side, role) in enumerate(people)]
        else:
            self.phones = [ApiPhone(i, side, role) for i, (side, role) in enumerate(people)]

    def facilitate(self, action: str):
        return asyncio.to_thread(getattr(self.control, action), self.setup["code"], self.setup["secret"])

    async def watch_loop_lag(self) -> None:
        """How late this process's own event loop wakes up: the bench must not be the bottleneck."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.05)
            self.loop_lag_ms.append((time.monotonic() - start - 0.05) * 1000)

    async def join(self, phone: Phone, delay: float) -> None:
        await asyncio.sleep(delay)
        phone.open_http(source_address(phone.index // self.args.phones_per_address))
        start = time.monotonic()
        try:
            await asyncio.wait_for(phone.join(self.server.url, self.setup["code"]), GIVE_UP_S)
            phone.join_s = time.monotonic() - start
        except (asyncio.TimeoutError, aiohttp.ClientError, ConnectionError, RuntimeError, KeyError) as exc:
            phone.errors.append(f"join: {type(exc).__name__}: {exc}")

    async def vote(self, phone: Phone, card_id: str, value: str, confirmed_at: list[float]) -> None:
        phone.attempted.setdefault(card_id, set()).add(value)
        phone.unconfirmed.setdefault(card_id, set()).add(value)
        start = time.monotonic()
        try:
            saved = await asyncio.wait_for(phone.vote(card_id, value), GIVE_UP_S)
        except (asyncio.TimeoutError, aiohttp.ClientError, ConnectionError, KeyError, ValueError, RuntimeError) as exc:
            phone.errors.append(f"vote: {type(exc).__name__}: {exc}")
            return
        if not saved:
            phone.errors.append(f"vote on {card_id} not confirmed")
            return
        now = time.monotonic()
        phone.vote_ms.append((now - start) * 1000)
        phone.confirmed[card_id] = value
        phone.unconfirmed[card_id] = set()
        confirmed_at.append(now)

    async def card_round(self, phone: Phone, card_id: str, shown: asyncio.Future, opened_at: float,
                         confirmed_at: list[float]) -> None:
        rng = random.Random(self.args.seed * 100_003 + phone.index * 101 + len(phone.seen_s))
        try:
            seen = await asyncio.wait_for(shown, GIVE_UP_S)
        except (asyncio.TimeoutError, ConnectionError) as exc:
            phone.errors.append(f"card {card_id} not seen: {type(exc).__name__}")
            return
        phone.seen_s[card_id] = seen - opened_at
        await asyncio.sleep(rng.uniform(*HUMAN_DELAY_S))
        value = rng.choice(VALUES)
        await self.vote(phone, card_id, value, confirmed_at)
        if rng.random() < CHANGE_SHARE:
            await asyncio.sleep(rng.uniform(*CHANGE_DELAY_S))
            await self.vote(phone, card_id, rng.choice([v for v in VALUES if v != value]), confirmed_at)

    def tally_complete(self, expected: int, deadline: float) -> float | None:
        """Monotonic time the facilitator's tally first counts `expected` voters (None: never, by deadline)."""
        while time.monotonic() < deadline:
            view = self.control.facilitator_state(self.setup["code"], self.setup["secret"])
            if view.votes_on_card >= expected:
                return time.monotonic()
            time.sleep(0.01)
        return None

    async def measure_idle(self) -> None:
        await asyncio.sleep(2.0)  # let the last joins' work settle
        server_before = cpu_seconds(self.server.process.pid)
        db_before = cpu_seconds(self.db_pid) if self.db_pid else 0.0
        start = time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        elapsed = time.monotonic() - start
        self.idle_cpu_pct = (cpu_seconds(self.server.process.pid) - server_before) / elapsed * 100
        if self.db_pid:
            self.db_idle_cpu_pct = (cpu_seconds(self.db_pid) - db_before) / elapsed * 100

    async def run(self) -> None:
        lag = asyncio.create_task(self.watch_loop_lag())
        started, cpu_before = time.monotonic(), time.process_time()
        spread = self.args.join_over
        starts = sorted(self.rng.uniform(0, spread) for _ in self.phones)
        print(f"joining {len(self.phones)} phones over {spread:.0f} s ...", flush=True)
        await asyncio.gather(*(self.join(phone, delay) for phone, delay in zip(self.phones, starts)))
        present = [phone for phone in self.phones if phone.join_s is not None]
        print(f"joined {len(present)}/{len(self.phones)}; measuring idle CPU for {IDLE_SECONDS:.0f} s ...", flush=True)
        await self.measure_idle()
        for position, card_id in enumerate(self.cards):
            watching = {phone.index: phone.card_open(card_id) for phone in present}
            confirmed_at: list[float] = []
            opened_at = time.monotonic()
            await self.facilitate("open_card")
            await asyncio.gather(*(self.card_round(phone, card_id, watching[phone.index], opened_at, confirmed_at)
                                   for phone in present))
            voters = sum(1 for phone in present if card_id in phone.confirmed)
            if confirmed_at:
                done = await asyncio.to_thread(self.tally_complete, voters, time.monotonic() + GIVE_UP_S)
                self.tally_lag_s.append(done - max(confirmed_at) if done else GIVE_UP_S)
            lag_s = self.tally_lag_s[-1] if confirmed_at else 0.0
            print(f"card {position + 1}: {voters} voters; tally lag {lag_s:.3f} s", flush=True)
            await self.facilitate("close_card")
            await self.facilitate("reveal")
            await asyncio.sleep(1.0)
            if position + 1 < len(self.cards):
                await self.facilitate("next_card")
        await self.facilitate("end")
        lag.cancel()
        self.bench_cpu_pct = (time.process_time() - cpu_before) / (time.monotonic() - started) * 100
        await asyncio.gather(*(phone.close() for phone in self.phones), return_exceptions=True)
        await asyncio.gather(*(phone.http.close() for phone in self.phones if phone.http), return_exceptions=True)

    def check_votes(self) -> tuple[int, int]:
        """(lost, duplicated), from the database."""
        voting = WorkshopVoting(self.engine)
        lost = 0
        for phone in self.phones:
            if not phone.token or not phone.confirmed:
                continue
            stored = voting.my_votes(phone.token)
            for card_id, value in phone.confirmed.items():
                if stored.get(card_id) != value and stored.get(card_id) not in phone.unconfirmed[card_id]:
                    lost += 1
        with self.engine.connect() as conn:
            workshop_id = conn.execute(
                sa.select(workshops.c.id).where(workshops.c.code == self.setup["code"])).scalar_one()
            rows = dict(conn.execute(sa.select(workshop_votes.c.card_id, sa.func.count())
                                     .where(workshop_votes.c.workshop_id == workshop_id)
                                     .group_by(workshop_votes.c.card_id)).all())
            pairs = dict(conn.execute(
                sa.select(workshop_votes.c.card_id, sa.func.count(sa.distinct(workshop_votes.c.participant_id)))
                .where(workshop_votes.c.workshop_id == workshop_id).group_by(workshop_votes.c.card_id)).all())
        duplicated = 0
        for card_id, count in rows.items():
            voters = sum(1 for phone in self.phones if card_id in phone.attempted)
            duplicated += (count - pairs[card_id]) + max(0, pairs[card_id] - voters)
        return lost, duplicated

    def report(self, lost: int, duplicated: int) -> None:
        joined = [phone.join_s for phone in self.phones if phone.join_s is not None]
        join_s = joined + [GIVE_UP_S] * (len(self.phones) - len(joined))  # given up: counted at the cap
        present = [phone for phone in self.phones if phone.join_s is not None]
        seen = [phone.seen_s.get(card_id, GIVE_UP_S) for phone in present for card_id in self.cards]
        votes = [ms for phone in self.phones for ms in phone.vote_ms]
        errors = [error for phone in self.phones for error in phone.errors]
        mode = f"old page {self.args.old}" if self.args.old is not None else "phone page"
        retaps = sum(getattr(phone, "retaps", 0) for phone in self.phones)
        print(f"{mode}, {self.args.database}: joined={len(joined)}/{len(self.phones)} cards={len(self.cards)} "
              f"votes_confirmed={len(votes)}" + (f" taps_repeated={retaps}" if self.args.old is not None else "")
              + f" errors={len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
        if errors:
            print(f"server log, last lines:\n{self.server.log_tail(15)}")
        print(f"medians: join_p50_s={percentile(join_s, 0.5):.2f} card_p50_s={percentile(seen, 0.5):.2f} "
              f"vote_p50_ms={percentile(votes, 0.5):.0f} tally_lag_p50_s={percentile(self.tally_lag_s, 0.5):.3f}; "
              f"bench: loop lag p99={percentile(self.loop_lag_ms, 0.99):.0f} ms, cpu={self.bench_cpu_pct:.0f}%"
              + (f"; database idle_cpu_pct={self.db_idle_cpu_pct:.1f}" if self.db_pid else "")
              + f"; load={' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        print(f"phones={len(self.phones)} join_p95_s={percentile(join_s, 0.95):.2f} "
              f"card_p95_s={percentile(seen, 0.95):.2f} vote_p95_ms={percentile(votes, 0.95):.0f} "
              f"tally_lag_s={max(self.tally_lag_s, default=0.0):.3f} lost={lost} duplicated={duplicated} "
              f"idle_cpu_pct={self.idle_cpu_pct:.1f}")


# --- main -----------------------------------------------------------------------------------

def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_setup(tree: Path, url: str, participants: list[tuple[str, str]]) -> dict:
    """The workshop (and the old page's participants), made by the code of the tree under test."""
    done = subprocess.run([sys.executable, "-c", SETUP, url, LANG, json.dumps(participants)], cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"setting up the workshop failed:\n{done.stderr}")
    setup = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(setup["module"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the setup imported {setup['module']}, not the tree under test {tree}")
    return setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, required=True)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--old", nargs="?", const=OLD_REV, default=None, metavar="REV",
                        help=f"drive the old Streamlit phone page of git revision REV (default {OLD_REV})")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--cards", type=int, default=3)
    parser.add_argument("--join-over", type=float, default=30.0, help="seconds over which the phones join")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phones-per-address", type=int, default=213,
                        help="phones sharing one source address (one network behind a NAT); default: a full room")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="one more `streamlit run` option (repeatable), "
                             "e.g. --server-arg=--server.fileWatcherType=none")
    args = parser.parse_args(argv)
    if min(args.phones, args.cards, args.phones_per_address) < 1:
        parser.error("--phones, --cards and --phones-per-address must be at least 1")
    raise_open_files_limit()
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    with tempfile.TemporaryDirectory(prefix="room-bench-") as tmp:
        tmp_path = Path(tmp)
        postgres = PostgresServer().start() if args.database == "postgresql" else None
        tree = REPO
        try:
            if args.old is not None:
                tree = tmp_path / "old"
                subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), args.old],
                               check=True)
            url = postgres.url() if postgres else f"sqlite:///{tmp_path / 'room.db'}"
            people = sides_and_roles(args.phones, random.Random(args.seed))
            setup = make_setup(tree, url, people if args.old is not None else [])
            env = {"DATABASE_URL": url} if postgres else {"ASSESSMENT_DB": str(tmp_path / "room.db")}
            server = Server(tree, "app.py" if args.old is not None else "serve.py", args.port or free_port(), env,
                            tmp_path / "server.log", args.server_arg)
            engine = make_engine(url)
            db_pid = int((postgres.datadir / "postmaster.pid").read_text().split()[0]) if postgres else None
            try:
                room = Room(args, setup, people, server, engine, db_pid)
                asyncio.run(room.run())
                lost, duplicated = room.check_votes()
                room.report(lost, duplicated)
            finally:
                server.stop()
                engine.dispose()
        finally:
            if args.old is not None and tree.exists():
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
            if postgres:
                postgres.stop()
    return 1 if lost or duplicated else 0


if __name__ == "__main__":
    sys.exit(main())
