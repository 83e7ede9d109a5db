"""Content negotiation of error answers: JSON unless the client prefers HTML (RFC 9110 12.5.1)."""

from __future__ import annotations

import time

import pytest

from logto_asgi.boundary import MAX_ACCEPT, accept_header, media_ranges, prefers_html, wants_json

CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
    "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FIREFOX_OLD = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CURL = HTTPX = FETCH = REQUESTS = "*/*"
AXIOS = "application/json, text/plain, */*"

HTML = [
    pytest.param(CHROME, id="chrome"),
    pytest.param(FIREFOX, id="firefox"),
    pytest.param(FIREFOX_OLD, id="firefox-old"),
    pytest.param(SAFARI, id="safari"),
    pytest.param("text/html", id="text/html"),
    pytest.param("TEXT/HTML", id="case-insensitive"),
    pytest.param("application/xhtml+xml", id="xhtml"),
    pytest.param("text/html, application/json", id="html-equal-to-json"),
    pytest.param("text/html;level=1;q=0.5, */*;q=0.4", id="media-parameter-before-q"),
    pytest.param("text/html;q=0.001", id="tiny-weight-no-star"),
    pytest.param("text/html;q=1.000", id="three-decimals"),
    pytest.param("text/html; q=0.9, application/json; q=0.8", id="html-above-json"),
    pytest.param("text/html;q=abc, text/html", id="bad-range-skipped-good-kept"),
    pytest.param("text/html," + "x/y," * 10_000, id="very-long-html-first"),
]
JSON = [
    pytest.param(None, id="no-accept"),
    pytest.param("", id="empty"),
    pytest.param(CURL, id="curl-httpx-fetch-requests"),
    pytest.param(AXIOS, id="axios"),
    pytest.param("application/json", id="json"),
    pytest.param("text/html;q=0", id="html-not-acceptable"),
    pytest.param("text/html;q=0.000, */*", id="html-q-zero-decimals"),
    pytest.param("*/*;q=0.1, text/html;q=0.05", id="html-below-star"),
    pytest.param("text/html;q=0.5, */*;q=0.5", id="html-equal-to-star"),
    pytest.param("application/json, text/html;q=0.9", id="json-above-html"),
    pytest.param("text/html;q=0.5, application/*;q=0.6", id="application-range-above-html"),
    pytest.param("text/*", id="text-range-is-not-html"),
    pytest.param("garbage", id="garbage"),
    pytest.param(";;;,,,;q=1,", id="punctuation"),
    pytest.param("text/html;q=abc", id="invalid-weight"),
    pytest.param("text/html;q=1.5", id="weight-above-one"),
    pytest.param("text/html;q=-1", id="negative-weight"),
    pytest.param("text/html;q=0.1234", id="four-decimals"),
    pytest.param("text/ html", id="space-in-type"),
    pytest.param("text/html\x00", id="nul"),
    pytest.param("a/b," * 5_000 + "text/html", id="very-long-html-past-the-cap"),
]


@pytest.mark.parametrize("accept", HTML)
def test_clients_that_prefer_html(accept: str) -> None:
    """Browsers' navigations and clients naming HTML above */* and JSON get the page."""
    assert prefers_html(accept)


@pytest.mark.parametrize("accept", JSON)
def test_clients_that_get_json(accept: str | None) -> None:
    """*/*, no Accept, JSON, HTML refused or ranked low, and garbage get JSON."""
    assert not prefers_html(accept)


def test_media_ranges_are_lower_cased_weighted_and_malformed_ones_dropped() -> None:
    assert list(media_ranges("Text/HTML;q=0.5, bad, */*;Q=0.1, a/b;q=2")) == [
        ("text/html", 0.5),
        ("*/*", 0.1),
    ]


def test_a_long_header_is_cut_at_a_comma_and_parsed_quickly() -> None:
    """Only MAX_ACCEPT characters are read, the range cut in half is dropped."""
    accept = "text/html;q=0.5," + "x" * (MAX_ACCEPT - 20) + "/abcdefghijklmnopqrstuvwxyz,*/*"
    assert list(media_ranges(accept)) == [("text/html", 0.5)]
    huge = "a/b;q=0.5," * 1_000_000
    started = time.perf_counter()
    for _ in range(100):
        prefers_html(huge)
    assert time.perf_counter() - started < 1


def test_every_accept_header_of_the_request_counts() -> None:
    scope = {"headers": [(b"accept", b"application/json;q=0.5"), (b"accept", b"text/html")]}
    assert accept_header(scope) == "application/json;q=0.5,text/html"
    assert not wants_json(scope)
    assert wants_json({"headers": [(b"accept", b"*/*")]})
    assert wants_json({"headers": []})
    assert wants_json({})
