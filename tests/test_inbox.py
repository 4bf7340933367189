"""The therapist's side (issue 13.5-13.7, 12.4): an inbox that fits her day, insights counted
without words, bookings in her calendar, and conversation ids that never reach staff.

Through sanic's test client on a migrated SQLite database; the browser and axe-core checks of the
same pages are in tests/test_staff_browser.py.
"""

from __future__ import annotations

import csv
import io
import re
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from haven import settings as settings_module
from haven import yaml_files
from haven.db import counts, inbox, repository
from haven.services import availability, references
from haven.settings import ROOT
from tests import staff_signin
from tests.sanic_server import served
from tests.test_staff import BEARER, HOST, SAME_ORIGIN, call, make_app
from website import inbox_view, staff

RAW_ID = "3f1c2a9e-6d7b-4c1e-9a55-0b7e8f4d2c11"  # what the widget's crypto.randomUUID makes
EMAIL = "robin.private@example.org"


@pytest.fixture
def app(db_url, staff_password):
    with served(make_app(db_url)) as app:
        yield app


def booking(db_url, **kw):
    values = dict(
        name="Robin",
        contact_method="email",
        contact=EMAIL,
        timezone="America/New_York",
        consent=True,
        time_preference="weekday evenings",
        conversation_id=RAW_ID,
    )
    values.update(kw)
    return repository.create_booking(url=db_url, **values)


def event(db_url, rule="rule:suicide.not_want_to_live", **kw):
    values = dict(category="suicide", subject="self", rule=rule, conversation_id=RAW_ID)
    values.update(kw)
    return repository.record_safety_event(url=db_url, **values)


def signed_in(app):
    session_value = staff_signin.sign_in_test_client(app, staff_signin.PASSWORD, HOST, SAME_ORIGIN)
    return session_value, {"Cookie": f"{staff.COOKIE}={session_value}", "Origin": SAME_ORIGIN}


# --------------------------------------------------------------------------- counts and pages


def test_counts_come_from_the_database_and_pages_reach_every_item(app, db_url) -> None:
    made = [event(db_url) for _ in range(45)]
    assert inbox.mark_handled("safety-events", [e.id for e in made[:5]], url=db_url)[0] == [
        e.id for e in made[:5]
    ]
    page = call(app, "get", "/staff", headers=BEARER).text
    assert "Safety events (40 open)" in page and "40 open of 45" in page
    assert page.count('id="select-safety-events-') == staff.PAGE_SIZE  # a page, not everything
    assert "Page 1 of 3" in page
    seen = set()
    for number in (1, 2, 3):
        text = call(app, "get", f"/staff?page_safety-events={number}", headers=BEARER).text
        seen |= set(re.findall(r'action="/staff/safety-events/(\d+)/handled"', text))
    assert {str(e.id) for e in made[5:]} <= seen  # every open item is reachable
    last = call(app, "get", "/staff?page_safety-events=3", headers=BEARER).text
    assert last.count('class="card is-handled"') == 5  # the handled ones come last
    only_open = call(app, "get", "/staff?show=open&page_safety-events=2", headers=BEARER).text
    assert "Page 2 of 2" in only_open and "card is-handled" not in only_open
    # Bad page numbers fall back to a real page rather than an error.
    for bad in ("0", "-1", "999999", "x", "9" * 40):
        assert call(app, "get", f"/staff?page_safety-events={bad}", headers=BEARER).status == 200
    api = call(app, "get", "/staff/api/safety-events?show=open&limit=10", headers=BEARER).json
    assert (api["open"], api["total"], len(api["items"])) == (40, 45, 10)


def test_bulk_mark_handled_and_undo_through_the_browser_form(app, db_url) -> None:
    older = booking(db_url)
    first, second, third = (booking(db_url) for _ in range(3))
    inbox.mark_handled("bookings", [older.id], url=db_url)
    before = repository.get_booking(older.reference, url=db_url).handled_at
    session_value, headers = signed_in(app)
    page = call(app, "get", "/staff", headers=headers).text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    done = call(
        app,
        "post",
        "/staff/bookings/handled",
        data={"csrf_token": csrf, "ids": [str(first.id), str(second.id), str(older.id)]},
        headers=headers,
    )
    assert done.status == 303
    assert [
        repository.get_booking(b.reference, url=db_url).handled_at is not None for b in (first, second, third)
    ] == [
        True,
        True,
        False,
    ]
    # The page offers to undo exactly this action; the already-handled booking is not part of it.
    after = call(app, "get", done.headers["location"].split("#")[0], headers=headers).text
    assert 'role="status"' in after and "Marked 2 bookings handled." in after
    ids = re.search(r'name="ids" value="([0-9,]+)"', after).group(1)
    at = re.search(r'name="at" value="([^"]+)"', after).group(1)
    assert sorted(ids.split(",")) == sorted([str(first.id), str(second.id)])
    # The status changed with it: handled bookings no longer say "Requested".
    assert after.count(">Requested<") == 1
    undone = call(
        app, "post", "/staff/bookings/undo", data={"csrf_token": csrf, "ids": ids, "at": at}, headers=headers
    )
    assert undone.status == 303
    assert repository.get_booking(first.reference, url=db_url).handled_at is None
    assert repository.get_booking(second.reference, url=db_url).handled_at is None
    assert repository.get_booking(older.reference, url=db_url).handled_at == before  # untouched
    # Undo needs the CSRF token like every other change, and bad input is a clear 400, not a 500.
    assert (
        call(app, "post", "/staff/bookings/undo", data={"ids": ids, "at": at}, headers=headers).status == 403
    )
    bad = call(
        app,
        "post",
        "/staff/bookings/undo",
        data={"csrf_token": csrf, "ids": ids, "at": "yesterday"},
        headers=headers,
    )
    assert bad.status == 400
    too_many = ",".join(str(i) for i in range(1, 600))
    assert (
        call(
            app,
            "post",
            "/staff/bookings/handled",
            data={"csrf_token": csrf, "ids": too_many},
            headers=headers,
        ).status
        == 400
    )
    assert (
        call(app, "post", "/staff/visitors/handled", data={"csrf_token": csrf}, headers=headers).status == 404
    )


def test_undo_reopens_only_what_that_action_closed(db_url) -> None:
    a, b = booking(db_url), booking(db_url)
    changed, stamp = inbox.mark_handled("bookings", [a.id], url=db_url)
    later, later_stamp = inbox.mark_handled("bookings", [a.id, b.id], url=db_url)
    assert changed == [a.id] and later == [b.id] and later_stamp != stamp
    assert inbox.undo_handled("bookings", [a.id, b.id], stamp, url=db_url) == 1
    assert repository.get_booking(a.reference, url=db_url).handled_at is None
    assert repository.get_booking(b.reference, url=db_url).handled_at == later_stamp


# --------------------------------------------------------------------------- words and times


def test_safety_events_read_in_plain_words_with_their_age(app, db_url) -> None:
    event(db_url)
    event(db_url, rule="model:0.97", category="self_harm")
    event(db_url, rule="check_in:yes", tier="crisis")
    event(db_url, rule="rule:some.future_pattern", category="danger", subject="other", tier="check_in")
    page = call(app, "get", "/staff", headers=BEARER).text
    assert re.search(r"Said they don&#39;t want to live; <time[^>]*>\d\d:\d\d, \w+day \d+ \w{3}</time>", page)
    assert "Wrote something that may mean self-harm" in page and "crisis model" in page
    assert "Answered yes when Haven asked directly" in page
    assert (
        "Wrote something that may mean they are in danger from someone" in page
        and "About someone else" in page
    )
    assert "Haven asked a direct check-in question" in page
    assert "waiting under a minute" in page
    for raw in ("suicide.not_want_to_live", "rule:", "model:0.97", "some.future_pattern", "check_in:yes"):
        assert raw not in page


def test_a_message_or_booking_from_a_conversation_with_a_safety_event_is_marked(app, db_url) -> None:
    """A message sent after the crisis lines ("Send what I wrote") is read first: its card says so and
    points to the safety events, by the conversation's reference, never its id."""
    other = "9d2e7c41-0b3a-4f6e-8c5d-1a2b3c4d5e6f"
    event(db_url)
    for name, conversation in (("Robin", RAW_ID), ("Kai", other)):
        repository.create_handoff(
            name=name, contact_method="email", contact=EMAIL, message="hello", conversation_id=conversation,
            url=db_url,
        )  # fmt: skip
    booking(db_url)
    page = call(app, "get", "/staff", headers=BEARER).text
    expected = references.conversation_reference(RAW_ID, references.secret(app.ctx.settings))
    cards = re.findall(r'<li class="card[^"]*">.*?</li>', page, re.S)
    flagged = [c for c in cards if "Crisis language earlier" in c]
    assert len(flagged) == 2, "Robin's message and Robin's booking; not Kai's message"
    assert all('href="#safety-events"' in c and expected in c for c in flagged)
    assert not any("Kai" in c for c in flagged) and any("Kai" in c for c in cards)
    assert inbox.with_safety_events([RAW_ID, other, None, ""], url=db_url) == {RAW_ID}
    assert inbox.with_safety_events([], url=db_url) == frozenset()


def test_every_crisis_pattern_has_plain_words() -> None:
    words = inbox_view.safety_words()
    missing = []
    for path in sorted((ROOT / "safety" / "crisis_patterns").glob("*.yml")):
        for category, spec in (yaml_files.read(path).get("categories") or {}).items():
            for pattern in spec.get("patterns") or []:
                if category in words["categories"] and pattern["id"] not in words["rules"]:
                    missing.append(pattern["id"])
    assert missing == [], f"add plain words to content/safety_words.yml for {missing}"
    assert set(words["category_fallback"]) == set(words["categories"]) == {"suicide", "self_harm", "danger"}


def test_times_are_in_the_therapists_time_zone(db_url) -> None:
    app = make_app(db_url, HAVEN_TIMEZONE="America/Los_Angeles")
    slot = datetime(2031, 3, 4, 22, 30, tzinfo=UTC)  # 14:30 in Los Angeles (PST)
    booking(db_url, slot_start=slot, time_preference=None)
    page = call(app, "get", "/staff", headers=BEARER).text
    assert "Times are in America/Los Angeles" in page
    assert ">14:30, Tuesday 4 Mar 2031<" in page and ">22:30" not in page
    with pytest.raises(ValueError, match="HAVEN_TIMEZONE"):
        settings_module.load({"HAVEN_TIMEZONE": "Mars/Olympus"})


def test_age_and_status_words() -> None:
    now = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
    assert inbox_view.age(now - timedelta(seconds=30), now) == "under a minute"
    assert inbox_view.age(now - timedelta(minutes=1), now) == "1 minute"
    assert inbox_view.age(now - timedelta(hours=5), now) == "5 hours"
    assert inbox_view.age(now - timedelta(days=3), now) == "3 days"
    assert inbox_view.age(now - timedelta(days=15), now) == "2 weeks"
    assert inbox_view.booking_status("requested", handled=False) == "Requested"
    assert inbox_view.booking_status("requested", handled=True) == "Handled"
    assert inbox_view.booking_status("cancelled", handled=True) == "Cancelled"


# --------------------------------------------------------------------------- conversation references


def test_the_raw_conversation_id_appears_nowhere_staff_can_see(app, db_url) -> None:
    made = booking(db_url, slot_start=datetime(2031, 1, 6, 14, 0, tzinfo=UTC))
    event(db_url)
    repository.create_handoff(
        name="Robin",
        contact_method="email",
        contact=EMAIL,
        message="hello",
        conversation_id=RAW_ID,
        url=db_url,
    )
    expected = references.conversation_reference(RAW_ID, references.secret(app.ctx.settings))
    assert re.fullmatch(r"C-[0-9a-f]{10}", expected)
    _, cookie = signed_in(app)
    bodies = {}
    for path in (
        "/staff",
        "/staff?show=open",
        "/staff/insights",
        "/staff/api/bookings",
        "/staff/api/handoffs",
        "/staff/api/safety-events",
        "/staff/api/insights",
        "/staff/export/bookings.csv",
        "/staff/export/handoffs.csv",
        "/staff/export/safety-events.csv",
        "/staff/calendar.ics",
        f"/staff/calendar/booking/{made.id}",
    ):
        for headers in (BEARER, cookie):
            response = call(app, "get", path, headers=headers)
            assert response.status == 200, path
            body = response.body.decode("utf-8-sig")
            assert RAW_ID not in body and RAW_ID.replace("-", "") not in body, path
            bodies[path] = body
    for path in ("/staff", "/staff/api/bookings", "/staff/api/handoffs", "/staff/api/safety-events"):
        assert expected in bodies[path], path
    for kind in ("bookings", "handoffs", "safety-events"):
        table = list(csv.reader(io.StringIO(bodies[f"/staff/export/{kind}.csv"])))
        assert "conversation_id" not in table[0] and table[1][table[0].index("conversation_ref")] == expected
        item = call(app, "get", f"/staff/api/{kind}", headers=BEARER).json["items"][0]
        assert "conversation_id" not in item and item["conversation_ref"] == expected


def test_the_reference_secret_is_owner_only_and_stable(tmp_path) -> None:
    settings = settings_module.load({"HAVEN_REFERENCE_SECRET_FILE": str(tmp_path / "var" / "secret")})
    key = references.secret(settings)
    path = tmp_path / "var" / "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= references.MIN_SECRET
    references._cache.clear()
    assert references.secret(settings) == key  # the same after a restart
    other = settings_module.load({"HAVEN_REFERENCE_SECRET": "x" * 40})
    assert references.conversation_reference(
        RAW_ID, references.secret(other)
    ) != references.conversation_reference(RAW_ID, key)
    with pytest.raises(ValueError, match="HAVEN_REFERENCE_SECRET must be at least 32"):
        settings_module.load({"HAVEN_REFERENCE_SECRET": "short"})


def test_an_unusable_reference_secret_file_gives_a_calm_503(db_url, tmp_path) -> None:
    damaged = tmp_path / "damaged-secret"
    damaged.write_text("too short\n")
    app = make_app(db_url, HAVEN_REFERENCE_SECRET_FILE=str(damaged))
    booking(db_url)
    for path in ("/staff", "/staff/api/bookings", "/staff/export/bookings.csv"):
        response = call(app, "get", path, headers=BEARER)
        assert response.status == 503 and "Traceback" not in response.text, path
        assert RAW_ID not in response.text


# --------------------------------------------------------------------------- calendar


def parse(body: bytes) -> list:
    calendar = icalendar.Calendar.from_ical(body)
    return [component for component in calendar.walk("VEVENT")]


def test_the_calendar_feed_parses_and_carries_the_reference_but_no_contact(app, db_url) -> None:
    slot = datetime(2031, 1, 6, 14, 0, tzinfo=UTC)
    timed = booking(db_url, slot_start=slot, time_preference=None)
    loose = booking(db_url, name="Sam Private", time_preference="mornings are best")
    response = call(app, "get", "/staff/calendar.ics", headers=BEARER)
    assert response.status == 200 and response.headers["content-type"].startswith("text/calendar")
    events = {str(e["uid"]): e for e in parse(response.body)}
    assert set(events) == {f"{timed.reference}@haven", f"{loose.reference}@haven"}
    first = events[f"{timed.reference}@haven"]
    assert timed.reference in str(first["summary"])
    assert first.decoded("dtstart") == slot and first.decoded("dtend") == slot + timedelta(minutes=15)
    assert loose.reference in str(events[f"{loose.reference}@haven"]["summary"])
    text = response.body.decode()
    for private in (EMAIL, "Robin", "Sam Private", "mornings are best", RAW_ID):
        assert private not in text
    # Without a credential: nothing.
    assert call(app, "get", "/staff/calendar.ics").status == 401


def test_contacts_in_the_calendar_only_when_she_turns_them_on(db_url) -> None:
    app = make_app(db_url, HAVEN_CALENDAR_SHOW_CONTACT="true")
    booking(db_url, time_preference="mornings are best")
    [only] = parse(call(app, "get", "/staff/calendar.ics", headers=BEARER).body)
    description = str(only["description"])
    assert EMAIL in description and "Robin" in description and "mornings are best" in description
    assert RAW_ID not in description


def test_the_secret_feed_url_works_without_a_token_and_nothing_else_does(app, db_url) -> None:
    made = booking(db_url)
    page = call(app, "get", "/staff", headers=BEARER).text
    url = re.search(r"http://[^<]+/staff/calendar/feed/([0-9a-f]{64})\.ics", page)
    assert url, "the inbox shows her private feed address"
    feed = call(app, "get", f"/staff/calendar/feed/{url.group(1)}.ics")
    assert feed.status == 200 and made.reference in feed.text
    assert feed.headers["cache-control"] == "no-store"
    last = "1" if url.group(1).endswith("0") else "0"  # one character off, whatever the secret's last one is
    for wrong in ("0" * 64, url.group(1)[:-1] + last, "x", "a" * 500):
        response = call(app, "get", f"/staff/calendar/feed/{wrong}.ics")
        assert response.status == 404 and made.reference not in response.text
    disabled = make_app(db_url, HAVEN_STAFF_TOKEN="")
    assert call(disabled, "get", f"/staff/calendar/feed/{url.group(1)}.ics").status == 503


def test_each_booking_has_its_own_ics_download(app, db_url) -> None:
    made = booking(db_url)
    page = call(app, "get", "/staff", headers=BEARER).text
    assert f'href="/staff/calendar/booking/{made.id}" download' in page
    response = call(app, "get", f"/staff/calendar/booking/{made.id}", headers=BEARER)
    assert (
        response.status == 200
        and f'filename="{made.reference}.ics"' in response.headers["content-disposition"]
    )
    [only] = parse(response.body)
    assert made.reference in str(only["summary"])
    assert call(app, "get", "/staff/calendar/booking/999999", headers=BEARER).status == 404


# --------------------------------------------------------------------------- insights


def test_insights_count_where_events_happen_without_words(
    app, db_url, monkeypatch, tracker, dispatcher, domain
) -> None:
    """The real action answers a topic; the count reaches the page and the JSON; no words stored."""
    import asyncio

    from actions.explain_topic import ActionExplainTopic
    from actions.suggest_topics import ActionSuggestTopics

    monkeypatch.setenv("DATABASE_URL", db_url)
    question = "why do I still feel so attached to him after everything"
    asked = tracker(intent="why_still_attached", text=question)
    asyncio.run(ActionExplainTopic().run(dispatcher, asked, domain))
    unclear = tracker(intent="nlu_fallback", text="blorp wibble")
    asyncio.run(ActionSuggestTopics().run(dispatcher, unclear, domain))
    counts.drain()  # the actions' counts are written in the background (they never slow a reply)
    booking(db_url)
    event(db_url, category="danger", rule="rule:danger.not_safe")
    event(db_url, category="suicide", tier="check_in")

    data = call(app, "get", "/staff/api/insights?weeks=2", headers=BEARER).json
    assert data["timezone"] == availability.load_schedule().timezone_name  # the practice's, by default
    assert len(data["weeks"]) == 2
    week = data["weeks"][0]
    assert week["topics"]["why_still_attached"] == 1 and week["topics_answered"] == 1
    assert (week["could_not_answer"], week["did_you_mean"]) == (1, 0)  # no likely topics: could not answer
    assert week["bookings"] == 1 and week["handoffs"] == 0
    assert week["crises"] == {"suicide": 0, "self_harm": 0, "danger": 1}
    assert week["check_ins"]["suicide"] == 1
    assert data["totals"]["topics"]["why_still_attached"] == 1
    assert data["weeks"][1]["topics_answered"] == 0
    page = call(app, "get", "/staff/insights", headers=BEARER).text
    assert "<svg" in page and "<table" in page and page.count("<caption>") == 4 and "<script" not in page
    # Counts only: neither the page, the JSON nor the database holds what the visitor typed.
    for body in (page, str(data)):
        assert question not in body and "blorp" not in body
    raw = Path(db_url.replace("sqlite:///", "", 1)).read_bytes()
    assert b"attached to him" not in raw and b"blorp" not in raw


def test_counts_refuse_words_and_survive_concurrent_writers(db_url) -> None:
    with pytest.raises(ValueError, match="never visitor text"):
        counts.increment("topic", "why do I still feel attached", url=db_url)
    with pytest.raises(ValueError, match="metric"):
        counts.increment("message", url=db_url)
    counts.note("topic", "I want to die", url=db_url)  # never raises, never stores
    counts.drain()
    errors = []

    def work() -> None:
        try:
            for _ in range(5):
                counts.increment("conversation", url=db_url)
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    today = counts.week_start(datetime.now(UTC), "UTC")
    rows = counts.weekly(today, today, url=db_url)
    assert [(r.metric, r.count) for r in rows] == [("conversation", 40)]


def test_weeks_start_on_monday_in_her_time_zone() -> None:
    sunday_night_utc = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)  # Monday 03:00 UTC = Sunday 22:00 in New York
    assert counts.week_start(sunday_night_utc, "UTC").isoformat() == "2030-01-07"
    assert counts.week_start(sunday_night_utc, "America/New_York").isoformat() == "2029-12-31"


def test_insights_api_needs_the_token_and_takes_bad_arguments_calmly(app) -> None:
    assert call(app, "get", "/staff/api/insights").status == 401
    for query in (
        "weeks=0",
        "weeks=999",
        "weeks=x",
        "week=not-a-date",
        "week=2999-01-01",
        "week=" + "9" * 300,
    ):
        response = call(app, "get", f"/staff/api/insights?{query}", headers=BEARER)
        assert response.status == 200 and 1 <= len(response.json["weeks"]) <= 52, query
    assert call(app, "get", "/staff/insights?week=garbage", headers=BEARER).status == 200
