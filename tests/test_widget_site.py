"""The widget's page on the website server, without a browser: the favicon every page asks for, and the
crisis turn's one-tap links by locale (tests/test_widget_keys.py shows them in a browser)."""

from __future__ import annotations

import pytest

from haven import settings as settings_module
from haven.services import safety
from website.app import create_app


@pytest.fixture
def app(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/haven.db", "HAVEN_STAFF_TOKEN": "t" * 40}
    return create_app(settings_module.load(env))


def test_the_favicon_is_served_and_every_page_names_it(app) -> None:
    _, response = app.test_client.get("/favicon.ico")
    assert response.status == 200 and response.headers["content-type"] == "image/x-icon"
    assert response.body[:4] == b"\x00\x00\x01\x00", "an ICO file"
    _, page = app.test_client.get("/")
    assert '<link rel="icon" href="/favicon.ico">' in page.text


@pytest.mark.parametrize(("locale", "first"), [("en-US", "tel:988"), ("en-GB", "tel:116123")])
def test_the_locale_chooses_the_regions_links(locale, first) -> None:
    """The crisis reply's buttons come from the same region choice as the widget's numbers."""
    data = safety.load()
    links = data.region_resources(data.visitor_region(locale=locale)).links
    assert set(links) == set(safety.CATEGORIES)
    assert links["suicide"][0].href == first and links["suicide"][-1].href == "https://findahelpline.com"
