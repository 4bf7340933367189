"""The therapist's FAQ page (issue 15): her entries and their status, what visitors asked that the FAQ
could not answer, and an edit form that writes content/faq.yml.

Why it is built this way:
- The staff sign-in is being rewritten elsewhere, so the guard is a parameter: `guarded(api=, write=)`
  from website/staff/views.py, shared by every staff route. Posts need its CSRF token like every staff form.
- An edit is validated by the same loader the action server uses (haven/services/faq.py), then written
  atomically; the action servers see the new mtime and reload on the next question. No `rasa train`.
- An answer is `approved` only when she ticks "I have reviewed this answer"; otherwise it is saved as
  `to_fill` and visitors get the honest "I don't have that". Who and when are recorded in the file.
- The unmatched questions are counts and the nearest entry; their words only when
  HAVEN_FAQ_KEEP_QUESTIONS is on, and never older than the conversation retention period.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Callable, Optional

from jinja2 import Environment
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from haven.db import faq_questions
from haven.services import faq
from website import ERROR_FORMAT

COUNT_DAYS = 30
MAX_NAME = 80
MAX_FIELD = faq.MAX_ANSWER_CHARS


def _form(request: Request, name: str) -> str:
    value = request.form.get(name) if request.form else None
    return (value or "").replace("\r\n", "\n").strip()


def create_faq_blueprint(
    templates: Environment, guarded: Callable[..., Any], into: Optional[Blueprint] = None
):
    """The FAQ routes under /staff/faq. `into`: the staff blueprint to add them to (one line in
    website/staff/routes.py); without it a blueprint of their own is returned."""
    bp = into or Blueprint("staff_faq", url_prefix="/staff")

    def page(template: str, status: int = 200, **context: Any) -> HTTPResponse:
        return response.html(
            templates.get_template(f"staff/{template}.html").render(**context), status=status
        )

    def common(request: Request, credential: Any) -> dict:
        from website import staff

        return {
            "csrf": staff.csrf_token(credential.session) if credential.session else "",
            "csrf_field": staff.CSRF_FIELD,
            "signed_in_with_cookie": credential.via == "cookie",
        }

    def path_of(request: Request):
        return faq.faq_path(request.app.ctx.settings.content_dir)

    async def db(fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args, **kwargs))

    @bp.get("/faq", error_format=ERROR_FORMAT)
    @guarded(api=False)
    async def faq_list(request: Request, credential: Any) -> HTTPResponse:
        settings = request.app.ctx.settings
        try:
            current, error = faq.load(path_of(request)), None
        except faq.FaqError as problem:
            current, error = None, str(problem)
        since = datetime.now(UTC) - timedelta(days=COUNT_DAYS)
        url = settings.database_url
        tallies = await db(faq_questions.tallies, since, url=url)
        kept = (
            await db(faq_questions.kept_questions, settings.retain_conversation_days, url=url)
            if settings.faq_keep_questions
            else []
        )
        titles = {e.id: e.title for e in current.entries} if current else {}
        return page(
            "staff_faq",
            entries=current.entries if current else [],
            error=error,
            tallies=tallies,
            kept=kept,
            keep_questions=settings.faq_keep_questions,
            retain_days=settings.retain_conversation_days,
            days=COUNT_DAYS,
            titles=titles,
            saved=request.args.get("saved"),
            reloaded=request.args.get("reloaded"),
            **common(request, credential),
        )

    @bp.get("/faq/<entry_id>", error_format=ERROR_FORMAT)
    @guarded(api=False)
    async def faq_edit_form(request: Request, credential: Any, entry_id: str) -> HTTPResponse:
        try:
            entry = faq.load(path_of(request)).get(entry_id)
        except faq.FaqError:  # a broken file by hand: the list page says what is wrong
            return response.redirect("/staff/faq", status=303)
        if entry is None:
            return page("message", status=404, reason="not_found")
        return page("staff_faq_edit", entry=entry, error=None, name="", **common(request, credential))

    @bp.post("/faq/<entry_id>", error_format=ERROR_FORMAT)
    @guarded(api=False, write=True)
    async def faq_edit(request: Request, credential: Any, entry_id: str) -> HTTPResponse:
        path = path_of(request)
        try:
            current = faq.load(path)
        except faq.FaqError:
            return response.redirect("/staff/faq", status=303)
        entry = current.get(entry_id)
        if entry is None:
            return page("message", status=404, reason="not_found")
        name, answer, link = _form(request, "changed_by"), _form(request, "answer"), _form(request, "link")
        questions = tuple(q.strip() for q in _form(request, "questions").split("\n") if q.strip())
        approve = _form(request, "approved") == "yes"
        today = datetime.now(UTC).date().isoformat()
        edited = faq.FaqEntry(
            id=entry.id,
            title=entry.title,
            status="approved" if approve else "to_fill",
            questions=questions,
            answer=answer,
            link=link,
            approved_by=name if approve else "",
            approved_on=today if approve else "",
            changed_by=name,
            changed_on=today,
        )
        error = None
        if not name or len(name) > MAX_NAME:
            error = f"Please give your name (up to {MAX_NAME} characters): it is recorded with the change."
        elif len(answer) > MAX_FIELD or not answer:
            error = f"The answer must be between 1 and {MAX_FIELD} characters."
        else:
            try:
                await db(faq.save, faq.with_entry(current, edited), path)
            except faq.FaqError as problem:
                error = str(problem).split(": ", 2)[-1]
        if error:
            context = common(request, credential)
            return page("staff_faq_edit", status=400, entry=edited, error=error, name=name, **context)
        return response.redirect(f"/staff/faq?saved={entry.id}", status=303)

    @bp.post("/faq-reload", error_format=ERROR_FORMAT)
    @guarded(api=False, write=True)
    async def faq_reload(request: Request, credential: Any) -> HTTPResponse:
        """Check the file as it is on disk now and make the action servers re-read it (a new mtime)."""
        path = path_of(request)
        try:
            faq.load(path)
        except faq.FaqError:
            return page("message", status=400, reason="bad_request")
        faq.touch(path)
        return response.redirect("/staff/faq?reloaded=1", status=303)

    return bp
