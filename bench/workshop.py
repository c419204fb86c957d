"""Live-workshop load: a full room voting through WorkshopVoting.vote, as the app does.

300 participants (one thread each) vote on the 12 cards of the Burlöv deck. The main
thread plays the facilitator: open a card, let the room vote (about 30 % change their
vote once), close, next. Afterwards every participant's final vote is compared with
the rows in the database: lost = an expected vote missing or with another value,
duplicated = more rows than (participant, card) pairs or rows nobody cast.

Baseline, measured in the same run on the same database: one participant thread
voting sequentially. The ratio shows what concurrency costs or gains.

    .venv/bin/python bench/workshop.py [--database-url postgresql://...] [--participants 300]

The last line is ``lost=<n> votes_per_s=<x>``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assessment.store.engine import make_engine  # noqa: E402
from assessment.store.migrations import init_db  # noqa: E402
from assessment.store.tables import workshop_votes, workshops  # noqa: E402
from assessment.workshop.control import WorkshopControl  # noqa: E402
from assessment.workshop.decks import DECKS_DIR, load_deck  # noqa: E402
from assessment.workshop.voting import WorkshopVoting  # noqa: E402

VALUES = ("agree", "disagree", "pass")


def sequential_baseline(control: WorkshopControl, voting: WorkshopVoting, deck, votes: int) -> float:
    """Votes per second of one thread voting alone (one participant per card round)."""
    code, secret = control.create_workshop("Baseline", "Bench", date.today(), "sv", deck)
    tokens = [voting.join(code, "public") for _ in range(max(1, votes // len(deck.cards)))]
    done = 0
    elapsed = 0.0
    for card in deck.cards:
        control.open_card(code, secret)
        start = time.perf_counter()
        for token in tokens:
            voting.vote(token, card.id, random.choice(VALUES))
            done += 1
        elapsed += time.perf_counter() - start
        control.next_card(code, secret) if card is not deck.cards[-1] else control.close_card(code, secret)
    return done / elapsed


def run_room(control: WorkshopControl, voting: WorkshopVoting, deck, participants: int, change_share: float,
             seed: int):
    code, secret = control.create_workshop("Bench room", "Bench", date.today(), "sv", deck)
    sides = ["public" if i % 2 else "civil_society" for i in range(participants)]
    tokens = [voting.join(code, side) for side in sides]
    expected: dict[tuple[int, str], str] = {}  # (participant index, card) -> last confirmed value
    errors: list[str] = []
    calls = [0] * participants
    lock = threading.Lock()
    start_gate = threading.Barrier(participants + 1)
    end_gate = threading.Barrier(participants + 1)

    def participant(i: int) -> None:
        rng = random.Random(seed * 100_003 + i)
        for card in deck.cards:
            start_gate.wait()
            try:
                value = rng.choice(VALUES)
                voting.vote(tokens[i], card.id, value)
                calls[i] += 1
                with lock:
                    expected[(i, card.id)] = value
                if rng.random() < change_share:
                    value = rng.choice([v for v in VALUES if v != value])
                    voting.vote(tokens[i], card.id, value)
                    calls[i] += 1
                    with lock:
                        expected[(i, card.id)] = value
            except Exception as exc:  # counted and shown, never hidden
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            end_gate.wait()

    threads = [threading.Thread(target=participant, args=(i,), daemon=True) for i in range(participants)]
    for thread in threads:
        thread.start()
    voting_time = 0.0
    for position, card in enumerate(deck.cards):
        control.open_card(code, secret)
        started = time.perf_counter()
        start_gate.wait()
        end_gate.wait()
        voting_time += time.perf_counter() - started
        if position + 1 < len(deck.cards):
            control.next_card(code, secret)
    control.end(code, secret)
    for thread in threads:
        thread.join()
    return code, tokens, expected, errors, sum(calls), voting_time


def count_rows(voting: WorkshopVoting, code: str, tokens: list[str], expected: dict) -> tuple[int, int, int]:
    """(lost, duplicated, rows) for the room, from the database itself."""
    votes = [voting.my_votes(token) for token in tokens]  # through the repository, per participant
    lost = sum(1 for (i, card), value in expected.items() if votes[i].get(card) != value)
    with voting.engine.connect() as conn:
        workshop_id = conn.execute(sa.select(workshops.c.id).where(workshops.c.code == code)).scalar_one()
        rows = conn.execute(sa.select(sa.func.count()).select_from(workshop_votes)
                            .where(workshop_votes.c.workshop_id == workshop_id)).scalar_one()
        pairs = conn.execute(sa.select(sa.func.count()).select_from(
            sa.select(workshop_votes.c.participant_id, workshop_votes.c.card_id).distinct()
            .where(workshop_votes.c.workshop_id == workshop_id).subquery())).scalar_one()
    unexpected = sum(len(v) for v in votes) - sum(1 for key in expected if votes[key[0]].get(key[1]))
    duplicated = (rows - pairs) + unexpected
    return lost, duplicated, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--change", type=float, default=0.3, help="share of votes changed once")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    random.seed(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        init_db(engine)
        control, voting = WorkshopControl(engine), WorkshopVoting(engine)
        deck = load_deck(DECKS_DIR / "burlov.yaml")
        print(f"database: {engine.dialect.name}; {args.participants} participants x {len(deck.cards)} cards, "
              f"{args.change:.0%} change a vote")
        baseline = sequential_baseline(control, voting, deck, 600)
        print(f"baseline (one thread, sequential): {baseline:.0f} votes/s")
        code, tokens, expected, errors, calls, seconds = run_room(
            control, voting, deck, args.participants, args.change, args.seed)
        lost, duplicated, rows = count_rows(voting, code, tokens, expected)
        rate = calls / seconds
        print(f"vote() calls returned: {calls} in {seconds:.2f} s voting time")
        print(f"votes per second: {rate:.0f} ({rate / baseline:.2f} x the sequential baseline)")
        print(f"final votes expected: {len(expected)}, rows: {rows}")
        print(f"errors raised by vote(): {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
        print(f"lost: {lost}")
        print(f"duplicated: {duplicated}")
        engine.dispose()
    print(f"lost={lost} votes_per_s={rate:.0f}")
    return 1 if lost or duplicated or errors else 0


if __name__ == "__main__":
    sys.exit(main())
