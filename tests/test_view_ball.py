"""`soccerspot view --task ball`: the payload carries the task's teams and hit tolerance and each spot's and label's
team; corrections go to `Labels-ball.json` with the spot's team; in Chromium each team's marks sit on its side of
the lane's centre line and the spots that hit a label are the ones `hit_flags` finds."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from ball_game import dense_ball_labels, write_ball_game
from soccerspot.data.classes import CLASS_NAMES_BALL
from soccerspot.data.games import LABELS_FILE, LABELS_FILE_BALL
from soccerspot.data.labels import Event, Prediction, read_labels, read_predictions
from soccerspot.data.tasks import task_spec
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.reports.hits import hit_flags
from soccerspot.pipeline.view.server import make_server
from test_view_server import request

GAME = "game"


@pytest.fixture
def ball_game(tmp_path) -> Path:
    write_ball_game(tmp_path / "tree" / GAME, dense_ball_labels(minutes=3.0, per_minute=40))
    return tmp_path / "tree"


def get_json(running, path):
    status, _headers, body = request(running, "GET", path)
    assert status == 200, body
    return json.loads(body)


def test_the_ball_payload_carries_teams_and_the_hit_tolerance(ball_game, tmp_path):
    running = make_server(ball_game, review_dir=tmp_path / "reviewed", task="ball").start_background()
    try:
        payload = get_json(running, f"/api/game?key={GAME}")
        listing = get_json(running, "/api/games")
    finally:
        running.close()
    assert payload["task"] == "ball" and payload["teams"] == ["left", "right"] and payload["hit_seconds"] == 0.5
    assert sorted(payload["all_classes"]) == sorted(CLASS_NAMES_BALL)
    assert payload["has_labels"] and set(listing["games"][0]["per_class"]) <= set(CLASS_NAMES_BALL)
    written = read_predictions(ball_game / GAME / "results_spotting.json").predictions
    assert sorted((s["t"], s["label"], s["team"]) for s in payload["spots"]) == \
        sorted((p.position_ms / 1000, p.label, p.team) for p in written)
    labels = read_labels(ball_game / GAME / LABELS_FILE_BALL).events
    assert [(e["t"], e["team"]) for e in payload["truth"]] == [(e.position_ms / 1000, e.team) for e in labels]
    assert len({s["id"] for s in payload["spots"]}) == len(payload["spots"])


def test_without_its_task_the_ball_game_has_no_labels(ball_game, tmp_path):
    running = make_server(ball_game, review_dir=tmp_path / "reviewed").start_background()
    try:
        payload = get_json(running, f"/api/game?key={GAME}")
    finally:
        running.close()
    assert payload["task"] == "spotting" and payload["teams"] == [] and not payload["has_labels"]
    assert any("Labels-ball.json is there: open it with soccerspot view --task ball" in p for p in payload["problems"])


def test_accepted_ball_spots_confirm_their_teams_label_or_add_one_with_their_team(tmp_path):
    truth = [Event(1, 10_000, "PASS", "left"), Event(1, 30_000, "SHOT", "right")]
    folder = tmp_path / "tree" / GAME
    write_ball_game(folder, truth)
    spots = [Prediction(1, 10_400, "PASS", 0.9, "left"), Prediction(1, 10_300, "PASS", 0.8, "right"),
             Prediction(1, 30_800, "SHOT", 0.7, "right")]
    (folder / "results_spotting.json").write_text(json.dumps({"UrlLocal": "", "predictions": [
        {"gameTime": "1 - 00:10", "label": p.label, "position": p.position_ms, "half": 1, "confidence": p.confidence,
         "team": p.team} for p in spots]}))
    running = make_server(tmp_path / "tree", review_dir=tmp_path / "reviewed", task="ball").start_background()
    try:
        payload = get_json(running, f"/api/game?key={GAME}")
        decisions = {s["id"]: {"status": "accepted", "half": 1, "position_ms": round(s["t"] * 1000),
                               "label": s["label"], "visibility": "visible", "team": s["team"]}
                     for s in payload["spots"]}
        status, _, body = request(running, "POST", f"/api/review?key={quote(GAME)}", json.dumps(
            {"decisions": decisions}).encode(), {"Content-Type": "application/json"})
        assert status == 200, body
        bad = dict(decisions)
        bad[next(iter(bad))] = {**next(iter(decisions.values())), "team": "home"}
        status, _, body = request(running, "POST", f"/api/review?key={quote(GAME)}", json.dumps(
            {"decisions": bad}).encode(), {"Content-Type": "application/json"})
        assert status == 400 and b"team must be one of left, right" in body
    finally:
        running.close()
    assert not (tmp_path / "reviewed" / GAME / LABELS_FILE).exists()
    saved = read_labels(tmp_path / "reviewed" / GAME / LABELS_FILE_BALL).events
    # the left PASS 0.4 s off confirms the left label; the right PASS is another team's action; the SHOT 0.8 s off
    # is past ±12.5 frames, so it is added
    assert sorted((e.position_ms, e.label, e.team) for e in saved) == [
        (10_000, "PASS", "left"), (10_300, "PASS", "right"), (30_000, "SHOT", "right"), (30_800, "SHOT", "right")]


def test_view_refuses_an_unknown_task(ball_game, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["view", str(ball_game), "--task", "nope"])
    assert stopped.value.code == 2 and "--task" in capsys.readouterr().err


def test_the_ball_page_puts_each_team_on_its_side_and_marks_the_hits(ball_game, tmp_path):
    from test_view_browser import chromium_path, sync_playwright

    if sync_playwright is None or chromium_path() is None:
        pytest.skip("needs Chromium and Playwright for Python")
    spots = read_predictions(ball_game / GAME / "results_spotting.json").predictions
    truth = read_labels(ball_game / GAME / LABELS_FILE_BALL).events
    shown = [p for p in spots if p.confidence >= 0.3]  # the page's starting threshold
    hits = hit_flags(shown, truth, task_spec("ball").hit_seconds, teams=True)
    running = make_server(ball_game, review_dir=tmp_path / "reviewed", task="ball").start_background()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(running.url())
            page.wait_for_selector("body[data-ready]", timeout=20_000)
            sides = page.evaluate("""() => [...document.querySelectorAll('.lane')].flatMap((lane) => {
                const box = lane.getBoundingClientRect(), centre = box.top + box.height / 2;
                return [...lane.querySelectorAll('.spot, .truth')].map((m) => {
                  const r = m.getBoundingClientRect();
                  return [m.dataset.id, r.top - centre, r.bottom - centre];
                });
              })""")
            counts = page.evaluate("() => [document.querySelectorAll('.spot.hit').length, "
                                   "document.querySelectorAll('.spot.miss').length]")
            legend = page.inner_text("#team-legend")
            browser.close()
    finally:
        running.close()
    assert errors == []
    team_of = {f"t:{i}": e.team for i, e in enumerate(truth)}
    team_of.update({f"p:{p.half}:{p.position_ms}:{p.label}:{p.team}": p.team for p in shown})
    assert sorted(mark for mark, _, _ in sides) == sorted(team_of)
    for mark, top, bottom in sides:  # team "left" above the lane's centre line, "right" below
        assert (bottom <= 0.5) if team_of[mark] == "left" else (top >= -0.5), (mark, top, bottom)
    assert counts == [sum(hits), len(hits) - sum(hits)] and 0 < sum(hits) < len(hits)
    assert "left: above the line" in legend and "right: below the line" in legend
