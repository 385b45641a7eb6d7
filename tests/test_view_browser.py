"""`soccerspot view` in a real headless Chromium (Debian's `chromium`, driven by Playwright for Python):
the page loads a synthetic game, draws the right spots per class, seeks the video on a click, saves what
the keyboard decides, and filters by confidence at once."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.labels import read_labels
from soccerspot.data.games import LABELS_FILE
from view_helpers import GAME, LABELS, SPOTS, make_view_tree

INSTALL = "apt-get install -y chromium && pip install playwright"


def chromium_path() -> str | None:
    for name in (os.environ.get("SOCCERSPOT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

pytestmark = pytest.mark.skipif(sync_playwright is None or chromium_path() is None,
                                reason=f"needs Chromium and Playwright for Python: {INSTALL}")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_view_tree(tmp_path_factory.mktemp("view"))


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, tree, tmp_path):
    from soccerspot.pipeline.view.server import make_server

    running = make_server(tree.results, tree.season, review_dir=tmp_path / "reviewed").start_background()
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(running.url())
    tab.wait_for_selector("body[data-ready]", timeout=20_000)
    tab.wait_for_function("() => document.getElementById('video').readyState >= 1", timeout=20_000)
    yield tab
    tab.close()
    running.close()
    assert errors == []


def saved_labels(tmp_path) -> Path:
    return tmp_path / "reviewed" / GAME / LABELS_FILE


def wait_for_labels(tmp_path, check, timeout=10.0):
    """The saved labels once `check(events)` holds (the page saves after every change)."""
    deadline = time.monotonic() + timeout
    events = None
    while time.monotonic() < deadline:
        if saved_labels(tmp_path).is_file():
            events = [(e.half, e.position_ms, e.label, e.visibility) for e in read_labels(saved_labels(tmp_path)).events]
            if check(events):
                return events
        time.sleep(0.1)
    raise AssertionError(f"the saved labels never satisfied the check: {events}")


def spots_per_class(page) -> dict[str, int]:
    return page.evaluate("""() => { const n = {};
        for (const s of document.querySelectorAll('#track .spot')) n[s.dataset.label] = (n[s.dataset.label] || 0) + 1;
        return n; }""")


def set_threshold(page, value: float) -> None:
    page.eval_on_selector("#threshold", "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", str(value))


def expected(half: int, threshold: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    for h, _s, label, confidence in SPOTS:
        if h == half and confidence >= threshold:
            counts[label] = counts.get(label, 0) + 1
    return counts


def test_the_timeline_shows_each_class_spots_and_labels(page):
    assert page.inner_text("#game-title") == GAME
    assert spots_per_class(page) == expected(1, 0.30)  # the default threshold
    set_threshold(page, 0)
    assert spots_per_class(page) == expected(1, 0)
    truth = page.eval_on_selector_all("#track .truth", "els => els.map(e => [e.dataset.label, e.classList.contains('unshown')])")
    assert sorted(map(tuple, truth)) == sorted((c, v == "not shown") for h, _s, c, v in LABELS if h == 1)
    page.click("#half-tabs button:nth-child(2)")
    assert spots_per_class(page) == expected(2, 0)
    assert page.locator("#track .replay").count() == 0  # the replays are in the first half
    page.click("#half-tabs button:nth-child(1)")
    assert page.locator("#track .replay").count() == 2 and page.locator("#track .origin").count() == 2


def test_clicking_a_spot_seeks_the_video_before_it(page):
    page.click('#track .spot[data-id="p:1:12500:Corner"]')
    page.wait_for_function("() => { const v = document.getElementById('video'); "
                           "return !v.seeking && v.currentTime >= 9.4 && v.currentTime < 12.5; }", timeout=10_000)
    assert page.inner_text("#sel-kind") == "Spot" and page.input_value("#sel-class") == "Corner"
    page.keyboard.press("n")  # the next shown event in time order: the Throw-in spot at 14.0 s
    page.wait_for_function("() => document.getElementById('video').currentTime >= 10.9", timeout=10_000)
    assert page.eval_on_selector("#track .selected", "e => e.dataset.id") == "p:1:14000:Throw-in"


def test_keys_accept_reject_nudge_and_reclass_into_the_saved_labels(page, tmp_path):
    page.click('#track .spot[data-id="p:1:14000:Throw-in"]')
    page.keyboard.press("a")
    wait_for_labels(tmp_path, lambda events: (1, 14000, "Throw-in", "visible") in events)
    page.keyboard.press("]")
    wait_for_labels(tmp_path, lambda events: (1, 14500, "Throw-in", "visible") in events)
    page.keyboard.press(".")  # one frame at 10 fps
    events = wait_for_labels(tmp_path, lambda events: (1, 14600, "Throw-in", "visible") in events)
    assert (1, 14000, "Throw-in", "visible") not in events
    page.click('#track .truth[data-id="t:1"]')  # the Corner label at 8.4 s
    page.keyboard.press("x")
    wait_for_labels(tmp_path, lambda events: all(e[2] != "Corner" for e in events))
    page.click('#track .truth[data-id="t:0"]')  # the Goal label at 5.2 s: back half a second, next class
    page.keyboard.press("[")
    page.keyboard.press("c")
    page.keyboard.press("v")
    following = CLASS_NAMES_V2[CLASS_NAMES_V2.index("Goal") + 1]  # `c`: the next class in SoccerNet's order
    events = wait_for_labels(tmp_path, lambda events: (1, 4700, following, "not shown") in events)
    assert len(events) == len(LABELS) - 1 + 1  # one label rejected, one spot accepted
    assert "/" in page.inner_text("#progress") and page.inner_text("#progress").startswith("2 / ")


def test_the_threshold_hides_less_confident_spots_at_once(page):
    for threshold in (0.0, 0.6, 0.9, 1.0):
        set_threshold(page, threshold)
        assert spots_per_class(page) == expected(1, threshold), threshold
    set_threshold(page, 0.6)
    page.uncheck('#class-filters input[data-label="Corner"]')
    assert spots_per_class(page) == {"Goal": 1}


def test_with_a_token_the_page_sends_it_on_every_request(browser, tree, tmp_path):
    from soccerspot.pipeline.view.server import make_server

    running = make_server(tree.results, tree.season, review_dir=tmp_path / "reviewed", token="t0ken").start_background()
    tab = browser.new_page()
    try:
        tab.goto(running.url())
        tab.wait_for_selector("body[data-ready]", timeout=20_000)
        tab.wait_for_function("() => document.getElementById('video').readyState >= 1", timeout=20_000)
        tab.click('#track .spot[data-id="p:1:12500:Corner"]')
        tab.keyboard.press("a")
        wait_for_labels(tmp_path, lambda events: (1, 12500, "Corner", "visible") in events)
    finally:
        tab.close()
        running.close()


def test_enter_plays_around_the_event_and_stops_after_it(page):
    page.click('#track .spot[data-id="p:1:5000:Goal"]')
    page.keyboard.press("Enter")  # from 3 s before (2.0 s) to 4 s after (9.0 s), then pause
    page.wait_for_function("() => { const v = document.getElementById('video'); return v.paused && v.currentTime >= 8.9; }",
                           timeout=20_000)
    assert 8.9 <= page.evaluate("document.getElementById('video').currentTime") < 9.6
