"""The therapist's private staff inbox: HTML pages, a JSON API and CSV export.

Why it is built this way:
- Everything is behind HAVEN_STAFF_TOKEN; with no token set nothing staff-only is served at all.
- Scripts send a bearer token, browsers sign in (website/staff_auth.py, haven/db/staff_accounts.py)
  and carry a server-side session cookie; browser posts need a CSRF token and a same-site Origin.
- One module per concern, so each can be read (and reviewed) on its own:
  - session.py: credentials, cookies and CSRF;
  - data.py: the database in a worker thread, the schema bootstrap, the reference secret;
  - export.py: records as staff may see them (JSON dicts, CSV with formula cells defused);
  - views.py: pages, refusals, the sign-in form and the guard every handler sits behind;
  - routes.py: one small handler per URL and create_blueprint.
- This module only re-exports what the rest of Haven (website/app.py, website/faq_admin.py) and the
  tests import, so `from website import staff` reads as it always has.
"""

from __future__ import annotations

from website.staff.data import ensure_schema
from website.staff.export import csv_cell, public_dict
from website.staff.routes import PAGE_SIZE, create_blueprint
from website.staff.session import COOKIE, CSRF_FIELD, CSRF_HEADER, LOGIN_COOKIE, csrf_token
from website.staff.views import UNAUTHORISED_MESSAGE, UNAVAILABLE_MESSAGE

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "PAGE_SIZE",
    "UNAUTHORISED_MESSAGE",
    "UNAVAILABLE_MESSAGE",
    "create_blueprint",
    "csrf_token",
    "csv_cell",
    "ensure_schema",
    "public_dict",
]
