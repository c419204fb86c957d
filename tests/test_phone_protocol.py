"""The phone protocol without a server: reading bodies, the state JSON, errors, flood control."""

from __future__ import annotations

import json
from datetime import date

import pytest

from assessment.i18n import all_keys
from assessment.workshop import phone_protocol as protocol
from assessment.workshop.control import WorkshopControl
from assessment.workshop.errors import InvalidInput, Refused, UnknownParticipant, UnknownWorkshop, WorkshopError
from assessment.workshop.voting import WorkshopVoting
from test_gaps import tiny_framework
from test_workshop import small_deck


def code_of(call, *args) -> str:
    with pytest.raises(WorkshopError) as caught:
        call(*args)
    return protocol.error_code(caught.value)


# --- reading requests ----------------------------------------------------------------------

def test_vote_body_is_read():
    assert protocol.parse_vote(b'{"card_id": "c1", "value": "agree", "extra": 1}') == ("c1", "agree")
    assert protocol.parse_join('{"code": "abc-234", "side": "public"}'.encode()) == ("abc-234", "public", "")
    assert protocol.parse_join(b'{"code": "X", "side": "public", "role": null}')[2] == ""
    assert protocol.parse_place(b'{"step_id": "agenda", "level_id": "none"}') == ("agenda", "none")


@pytest.mark.parametrize("raw, code", [
    (b"", "bad_json"),
    (b"{not json", "bad_json"),
    (b"\xff\xfe{}", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (b'"agree"', "bad_json"),
    (b"null", "bad_json"),
    (b"[" * 5000 + b"]" * 5000, "too_large"),
    (b'{"card_id": 5, "value": "agree"}', "bad_field"),
    (b'{"card_id": "c1", "value": ["agree"]}', "bad_field"),
    (b'{"card_id": "  ", "value": "agree"}', "bad_field"),
    (b'{"value": "agree"}', "bad_field"),
    (b'{"card_id": "c1\\u0000", "value": "agree"}', "bad_field"),
    (b'{"card_id": "c1", "value": "agree\\n"}', "bad_field"),
    (b'{"card_id": "c1", "value": "agree", "pad": "' + b"x" * 2048 + b'"}', "too_large"),
])
def test_bad_vote_bodies_are_refused_with_their_code(raw, code):
    assert code_of(protocol.parse_vote, raw) == code


def test_deeply_nested_json_within_the_size_is_a_bad_request_not_a_crash():
    assert code_of(protocol.parse_object, b"[" * 1000 + b"]" * 1000) == "bad_json"


def test_join_role_must_be_text():
    assert code_of(protocol.parse_join, b'{"code": "X", "side": "public", "role": 3}') == "bad_field"


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp"])
def test_only_json_content_is_accepted(content_type):
    assert code_of(protocol.check_content_type, content_type) == "unsupported_media_type"


def test_json_content_type_with_parameters_is_accepted():
    protocol.check_content_type("application/json")
    protocol.check_content_type("Application/JSON; charset=utf-8")


def test_declared_length_is_checked_before_reading():
    protocol.check_length(None)
    protocol.check_length(str(protocol.MAX_BODY_BYTES))
    assert code_of(protocol.check_length, str(protocol.MAX_BODY_BYTES + 1)) == "too_large"
    assert code_of(protocol.check_length, "lots") == "bad_json"


def test_lang_is_sv_en_or_absent():
    assert protocol.parse_lang(None) is None and protocol.parse_lang("") is None
    assert protocol.parse_lang("en") == "en"
    assert code_of(protocol.parse_lang, "de") == "bad_lang"


def test_bearer_token():
    assert protocol.bearer_token("Bearer abc") == "abc"
    assert protocol.bearer_token("bearer  abc ") == "abc"
    assert protocol.bearer_token(None, required=False) is None
    for header in (None, "", "Basic abc", "Bearer", "Bearer " + "x" * 500):
        with pytest.raises(UnknownParticipant):
            protocol.bearer_token(header)
    with pytest.raises(UnknownParticipant):  # a token that is sent must be a token
        protocol.bearer_token("Basic abc", required=False)


# --- errors --------------------------------------------------------------------------------

def test_every_error_code_has_a_message_in_both_languages():
    keys = all_keys()
    for code in protocol.STATUS:
        assert f"workshop.error.{code}" in keys or f"phone.error.{code}" in keys, code


def test_errors_map_to_status_code_and_message():
    assert protocol.error_parts(UnknownWorkshop(code="ZZZ"), "en") == (
        404, "unknown_code", "There is no workshop with the code ZZZ. Check the code on the screen.")
    status, code, message = protocol.error_parts(Refused("workshop.error.card_closed", "closed"), "sv")
    assert (status, code) == (409, "card_closed") and "stängd" in message
    assert protocol.error_parts(InvalidInput("workshop.error.bad_value", "bad", value="x"), None)[:2] == (
        422, "bad_value")
    assert protocol.error_parts(protocol.too_large(), "en")[:2] == (413, "too_large")
    assert protocol.error_parts(protocol.too_many_requests(3), "en") == (
        429, "too_many_requests", "Too many requests. Wait 3 seconds and try again.")


def test_unexpected_errors_become_a_server_error_without_details():
    status, code, message = protocol.error_parts(RuntimeError("secret detail /path/file.py"), "en")
    assert (status, code) == (500, "server_error") and "secret" not in message and "file.py" not in message
    body = json.loads(protocol.error_body(code, message))
    assert body == {"error": {"code": "server_error", "message": message}}


# --- the state -----------------------------------------------------------------------------

@pytest.fixture
def room(sqlite_engine):
    fw = tiny_framework()
    control, voting = WorkshopControl(sqlite_engine, fw), WorkshopVoting(sqlite_engine, fw)
    code, secret = control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    return control, voting, code, secret, fw


def test_state_before_a_card_opens(room):
    control, voting, code, secret, fw = room
    token = voting.join(code, "public", "official")
    data = protocol.state_dict(voting.state(code, token), fw, "en")
    assert data == {
        "code": code, "name": "Samverkan", "unit": "Burlöv", "lang": "en", "phase": "statements", "version": 0,
        "card": {"id": "c1", "index": 0, "count": 3, "text": "Statement 1?", "status": "pending"},
        "revealed": False, "tally": None, "matrix": None,
        "me": {"side": "public", "role": "official", "votes": {}, "placements": {}}}
    assert protocol.state_dict(voting.state(code), fw)["card"]["text"] == "Påstående 1?"  # the workshop's language


def test_state_with_vote_and_revealed_tally(room):
    control, voting, code, secret, fw = room
    mine, other = voting.join(code, "public"), voting.join(code, "civil_society")
    control.open_card(code, secret)
    voting.vote(mine, "c1", "agree")
    voting.vote(other, "c1", "pass")
    data = protocol.state_dict(voting.state(code, mine), fw, "sv")
    assert data["me"] == {"side": "public", "role": None, "votes": {"c1": "agree"}, "placements": {}}
    assert data["tally"] is None and data["card"]["status"] == "open"
    control.reveal(code, secret)
    shared = protocol.state_dict(voting.state(code), fw, "sv", with_me=False)
    assert shared["me"] is None and shared["revealed"] is True
    assert shared["tally"] == {"overall": {"agree": 1, "disagree": 0, "pass": 1, "total": 2},
                               "public": {"agree": 1, "disagree": 0, "pass": 0, "total": 1},
                               "civil_society": {"agree": 0, "disagree": 0, "pass": 1, "total": 1}}


def test_state_in_the_matrix_round(room):
    control, voting, code, secret, fw = room
    token = voting.join(code, "civil_society")
    control.start_matrix(code, secret)
    voting.place(token, "agenda", "dialogue")
    data = protocol.state_dict(voting.state(code, token), fw, "en")
    assert data["phase"] == "matrix" and data["card"] is None
    assert data["matrix"]["steps"] == [{"id": "agenda", "name": "agenda", "description": "agenda"},
                                       {"id": "decision", "name": "decision", "description": "decision"}]
    assert [level["id"] for level in data["matrix"]["levels"]] == [
        "none", "information", "consultation", "dialogue", "partnership"]
    assert data["matrix"]["levels"][0]["name"] == "No participation"
    assert data["matrix"]["result"] is None
    assert data["me"]["placements"] == {"agenda": "dialogue"}
    control.reveal(code, secret)
    result = protocol.state_dict(voting.state(code), fw, "en")["matrix"]["result"]
    assert result == [{"step_id": "agenda", "level_id": "dialogue", "answered": 1},
                      {"step_id": "decision", "level_id": "none", "answered": 0}]


def test_sse_frame_is_one_event_with_one_data_line(room):
    control, voting, code, secret, fw = room
    payload = protocol.dumps(protocol.state_dict(voting.state(code), fw, "sv", with_me=False))
    frame = protocol.sse_frame(payload)
    head, data, end = frame.split(b"\n", 2)
    assert head == b"event: state" and end == b"\n"
    assert json.loads(data.removeprefix(b"data: "))["code"] == code


# --- flood control -------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_refills():
    clock = FakeClock()
    buckets = protocol.TokenBuckets(burst=3, per_second=0.5, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == 2  # one token back after 2 s
    assert buckets.take("b") == 0, "another key has its own bucket"
    clock.now += 2
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0


def test_token_buckets_forget_full_buckets_when_many_keys():
    clock = FakeClock()
    buckets = protocol.TokenBuckets(burst=2, per_second=1, max_keys=10, clock=clock)
    for i in range(10):
        buckets.take(f"k{i}")
    clock.now += 5  # all full again
    buckets.take("new")
    assert len(buckets._buckets) == 1


def test_a_refusal_about_the_language_names_it():
    with pytest.raises(WorkshopError) as caught:
        protocol.parse_lang("de")
    assert protocol.error_parts(caught.value, None) == (
        400, "bad_lang", "Språket måste vara sv eller en (fick de).")


def test_state_keeps_the_votes_on_earlier_cards(room):
    """Sent back to an earlier card, a reloaded phone still knows how it voted there."""
    control, voting, code, secret, fw = room
    mine = voting.join(code, "public")
    control.open_card(code, secret)
    voting.vote(mine, "c1", "disagree")
    control.next_card(code, secret)
    control.open_card(code, secret)
    voting.vote(mine, "c2", "agree")
    control.previous_card(code, secret)
    data = protocol.state_dict(voting.state(code, mine), fw, "sv")
    assert data["card"]["id"] == "c1"
    assert data["me"]["votes"] == {"c1": "disagree", "c2": "agree"}
