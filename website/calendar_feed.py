"""Bookings in the therapist's calendar: an iCalendar feed and a one-booking .ics download.

Why these choices:
- Generated with `icalendar` (a well-kept library) rather than by hand: folding, escaping and
  time zones are easy to get subtly wrong, and calendar apps are unforgiving.
- A calendar is synced to phones and often shared, so by default an event carries only the booking
  reference, its status and a link to the inbox; the visitor's name, contact and time preference
  are added only when the therapist turns on HAVEN_CALENDAR_SHOW_CONTACT.  A conversation id is
  never in it.
- A booking with a chosen slot is a 15-minute event at that time; a request with only a time
  preference becomes an all-day reminder on the day it arrived (her time zone), because it has no
  time yet but should still be seen.  Cancelled bookings stay in the feed as STATUS:CANCELLED so a
  subscribed calendar removes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from icalendar import Calendar, Event

from haven.db.repository import BookingRecord
from haven.services.availability import therapist_timezone
from haven.settings import Settings
from website import inbox_view

CONSULTATION = timedelta(minutes=15)
PRODID = "-//Haven//Consultation bookings//EN"
_STATUS = {"requested": "TENTATIVE", "confirmed": "CONFIRMED", "cancelled": "CANCELLED"}


def _event(booking: BookingRecord, settings: Settings, now: datetime) -> Event:
    event = Event()
    event.add("uid", f"{booking.reference}@haven")
    event.add("dtstamp", now)
    event.add("created", booking.created_at)
    status = inbox_view.booking_status(booking.status, booking.handled_at is not None)
    if booking.slot_start is not None:
        event.add("summary", f"Free consultation · {booking.reference}")
        event.add("dtstart", booking.slot_start)
        event.add("dtend", booking.slot_start + CONSULTATION)
    else:
        event.add("summary", f"Consultation request to arrange · {booking.reference}")
        day = inbox_view.local(booking.created_at, therapist_timezone(settings)).date()
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    event.add("status", _STATUS.get(booking.status, "TENTATIVE"))
    lines = [f"Reference: {booking.reference}", f"Status: {status}"]
    if settings.calendar_show_contact:
        lines += [f"Name: {booking.name}", f"{booking.contact_method.capitalize()}: {booking.contact}"]
        if booking.time_preference:
            lines.append(f"Time preference: {booking.time_preference} ({booking.timezone})")
    lines.append(f"Details in the staff inbox: {settings.site_url.rstrip('/')}/staff#bookings")
    event.add("description", "\n".join(lines))
    return event


def calendar(bookings: Iterable[BookingRecord], settings: Settings, now: datetime) -> bytes:
    """A VCALENDAR with one VEVENT per booking, as bytes ready to send."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Haven consultations")
    cal.add("x-wr-timezone", therapist_timezone(settings))
    for booking in bookings:
        cal.add_component(_event(booking, settings, now))
    return cal.to_ical()
