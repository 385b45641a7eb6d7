"""`soccerspot view`'s server over HTTP: the games list, a game's data, videos by byte range (Matroska remuxed
without re-encoding), corrections saved as an official Labels-v2.json, and every refusal."""
from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import quote

import av
import numpy as np
import pytest

from soccerspot.data.classes import EVENT_DICTIONARY_V2
from soccerspot.data.labels import read_labels
from soccerspot.data.games import LABELS_FILE
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.view.guard import is_loopback
from soccerspot.pipeline.view.review import ORIGINAL_COPY, REVIEW_FILE
from soccerspot.pipeline.view.server import MAX_BODY, make_server
from video_helpers import constant_rate_times, write_video
from view_helpers import GAME, LABELS, SPOTS, make_view_tree, spot_id


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_view_tree(tmp_path_factory.mktemp("view"))


@pytest.fixture
def server(tree, tmp_path):
    running = make_server(tree.results, tree.season, review_dir=tmp_path / "reviewed").start_background()
    yield running
    running.close()


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(server, path):
    status, _headers, body = request(server, "GET", path)
    assert status == 200, body
    return json.loads(body)


def post_review(server, obj, key=GAME, headers=None):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return request(server, "POST", f"/api/review?key={quote(key)}", body,
                   {"Content-Type": "application/json", **(headers or {})})


def video_path(half=1):
    return f"/api/video?key={quote(GAME)}&half={half}"


def test_the_games_list_counts_spots_per_class(server):
    listing = get_json(server, "/api/games")
    assert [g["key"] for g in listing["games"]] == [GAME]
    game = listing["games"][0]
    expected = {}
    for _h, _s, label, _c in SPOTS:
        expected[label] = expected.get(label, 0) + 1
    assert game["per_class"] == expected and game["spots"] == len(SPOTS)
    assert game["has_labels"] and game["halves"] == [1, 2] and game["progress"] is None


def test_a_game_has_its_spots_labels_videos_scores_and_replays(server):
    game = get_json(server, f"/api/game?key={quote(GAME)}")
    assert sorted((s["half"], s["t"], s["label"], s["confidence"]) for s in game["spots"]) == sorted(SPOTS)
    assert sorted((e["half"], e["t"], e["label"], e["visibility"]) for e in game["truth"]) == sorted(LABELS)
    assert [(h["half"], h["video"], h["fps"]) for h in game["halves"]] == [(1, "1_224p.mkv", 10.0), (2, "2_224p.mkv", 10.0)]
    assert all(abs(h["duration"] - 30.0) < 0.2 and h["problem"] is None for h in game["halves"])
    curves = game["scores"]["1"]
    assert len(curves["times"]) == 60 and curves["times"][:2] == [0.0, 0.5]
    assert curves["classes"]["Goal"][10] == pytest.approx(0.92, abs=1e-3)  # the spot at 5.0 s, row 10
    by_source = {r["source"]: r for r in game["replays"]}
    assert by_source["detection"]["origin"] == {"half": 1, "t": 5.0, "score": 0.9}  # the best detection
    assert (by_source["cameras"]["start"], by_source["cameras"]["end"]) == (19.0, 24.0)
    assert by_source["cameras"]["origin"]["t"] == 5.2 and game["problems"] == []


def test_range_requests_give_partial_content(server):
    status, headers, whole = request(server, "GET", video_path())
    assert status == 200 and headers["Accept-Ranges"] == "bytes" and int(headers["Content-Length"]) == len(whole)
    size = len(whole)
    for spec, first, last in (("bytes=0-99", 0, 99), ("bytes=100-", 100, size - 1), ("bytes=-50", size - 50, size - 1),
                              (f"bytes=10-{size + 1000}", 10, size - 1)):
        status, headers, part = request(server, "GET", video_path(), headers={"Range": spec})
        assert status == 206, spec
        assert headers["Content-Range"] == f"bytes {first}-{last}/{size}" and part == whole[first:last + 1], spec
    status, headers, body = request(server, "HEAD", video_path(), headers={"Range": "bytes=0-9"})
    assert status == 206 and headers["Content-Length"] == "10" and body == b""


@pytest.mark.parametrize("spec", ["bytes=999999999-", "bytes=20-10", "bytes=0-1,5-9", "items=0-9", "bytes=-0", "bytes=-",
                                  "bytes=abc-def"])
def test_bad_ranges_are_416(server, spec):
    status, headers, _body = request(server, "GET", video_path(), headers={"Range": spec})
    assert status == 416 and headers["Content-Range"].startswith("bytes */")


def test_matroska_is_remuxed_to_mp4_without_re_encoding(server, tree, tmp_path):
    status, headers, body = request(server, "GET", video_path(2))
    assert status == 200 and headers["Content-Type"] == "video/mp4" and body[4:8] == b"ftyp"
    served = tmp_path / "served.mp4"
    served.write_bytes(body)
    with av.open(str(tree.season / GAME / "2_224p.mkv")) as source, av.open(str(served)) as copy:
        assert copy.streams.video[0].codec_context.name == "h264"
        original = [bytes(p) for p in source.demux(video=0) if p.size]
        remuxed = [bytes(p) for p in copy.demux(video=0) if p.size]
        assert len(remuxed) == len(original) == 300 and remuxed == original  # the same packets, bit for bit
        assert abs(float(copy.duration / 1e6) - 30.0) < 0.2


def test_an_mp4_is_served_as_it_is(tmp_path):
    game = tmp_path / "clips" / "match"
    game.mkdir(parents=True)
    video = write_video(game / "1_clip.mp4", constant_rate_times(25, 2))
    running = make_server(tmp_path / "clips").start_background()
    try:
        status, headers, body = request(running, "GET", "/api/video?key=match&half=1")
    finally:
        running.close()
    assert status == 200 and headers["Content-Type"] == "video/mp4" and body == video.read_bytes()


def official_vector(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from SoccerNet.Evaluation.ActionSpotting import label2vector

    return label2vector(json.loads(path.read_text()), num_classes=17, version=2,
                        EVENT_DICTIONARY=EVENT_DICTIONARY_V2, framerate=2)


def test_corrections_are_saved_as_official_labels_and_progress_is_kept(server, tree, tmp_path):
    before = tree.labels.read_bytes()
    decisions = {
        "t:0": {"status": "accepted", "half": 1, "position_ms": 5700, "label": "Goal", "visibility": "visible"},  # nudged
        "t:1": {"status": "rejected", "half": 1, "position_ms": 8400, "label": "Corner", "visibility": "visible"},
        "t:4": {"status": "open", "half": 2, "position_ms": 15000, "label": "Red card", "visibility": "not shown"},
        spot_id(1, 14.0, "Throw-in"): {"status": "accepted", "half": 1, "position_ms": 14100, "label": "Throw-in",
                                       "visibility": "visible"},
        spot_id(1, 17.0, "Goal"): {"status": "rejected", "half": 1, "position_ms": 17000, "label": "Goal",
                                   "visibility": "visible"},
        "n:0": {"status": "accepted", "half": 2, "position_ms": 27000, "label": "Corner", "visibility": "visible"},
    }
    status, _headers, body = post_review(server, {"decisions": decisions})
    assert status == 200, body
    answer = json.loads(body)
    saved = tmp_path / "reviewed" / GAME / LABELS_FILE
    assert answer["labels"] == str(saved) and answer["events"] == 6
    assert answer["progress"] == {"decided": 4, "total": len(SPOTS) + len(LABELS)}
    assert tree.labels.read_bytes() == before  # the original is never touched by default
    got = sorted((e.half, e.position_ms, e.label, e.visibility) for e in read_labels(saved, EVENT_DICTIONARY_V2).events)
    assert got == [(1, 5700, "Goal", "visible"), (1, 14100, "Throw-in", "visible"), (1, 25000, "Throw-in", "not shown"),
                   (2, 6100, "Goal", "visible"), (2, 15000, "Red card", "not shown"), (2, 27000, "Corner", "visible")]
    half1, half2 = official_vector(saved)  # SoccerNet's own reader: 1 shown, -1 not shown, at 2 fps rows
    index = EVENT_DICTIONARY_V2
    assert half1[11, index["Goal"]] == 1 and half1[28, index["Throw-in"]] == 1 and half1[50, index["Throw-in"]] == -1
    assert half1[:, index["Corner"]].sum() == 0 and half2[30, index["Red card"]] == -1 and half2[54, index["Corner"]] == 1
    assert np.count_nonzero(half1) + np.count_nonzero(half2) == 6
    # the progress comes back with the game and in the list
    game = get_json(server, f"/api/game?key={quote(GAME)}")
    assert game["review"]["decisions"]["t:1"]["status"] == "rejected" and game["review"]["saved_at"]
    assert get_json(server, "/api/games")["games"][0]["progress"] == answer["progress"]
    assert json.loads((tmp_path / "reviewed" / GAME / REVIEW_FILE).read_text())["decisions"].keys() == decisions.keys()


def test_overwrite_labels_keeps_one_copy_of_the_original(tree, tmp_path):
    import shutil

    season = tmp_path / "season"
    shutil.copytree(tree.season, season)
    original = (season / GAME / LABELS_FILE).read_bytes()
    running = make_server(tree.results, season, in_place=True, review_dir=tmp_path / "progress").start_background()
    try:
        for position in (5500, 6000):  # twice: the kept original stays the first one
            decision = {"t:0": {"status": "accepted", "half": 1, "position_ms": position, "label": "Goal",
                                "visibility": "visible"}}
            status, _h, body = post_review(running, {"decisions": decision})
            assert status == 200, body
    finally:
        running.close()
    assert (season / GAME / ORIGINAL_COPY).read_bytes() == original
    events = read_labels(season / GAME / LABELS_FILE).events
    assert (1, 6000, "Goal") in [(e.half, e.position_ms, e.label) for e in events] and len(events) == len(LABELS)


# ------------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("path", [
    "/api/game?key=" + quote("../../etc"), "/api/game?key=" + quote("league/2020-2021/../2020-2021/game A"),
    "/api/game?key=" + quote("league\x00"), "/api/video?key=" + quote(GAME) + "&half=3",
    "/api/video?key=" + quote(GAME) + "&half=..%2F..%2Fetc%2Fpasswd", "/static/../server.py", "/static/view.py",
    "/../../etc/passwd", "/api/video?key=nope&half=1",
])
def test_unknown_games_paths_and_names_are_refused(server, path):
    status, _headers, body = request(server, "GET", path)
    assert status in (400, 404) and b"1_224p" not in body and b"import" not in body


def test_files_outside_the_trees_are_never_served(tree, tmp_path):
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"\x00\x00\x00\x18ftypmp42 secret")
    results = tmp_path / "results"
    game = results / "a game"
    game.mkdir(parents=True)
    (game / "1_224p.mp4").symlink_to(outside)  # a symlink out of the tree
    (results / "linked").symlink_to(tree.season / GAME)  # a folder symlinked in from elsewhere is not walked
    odd = results / "bad\nname"
    odd.mkdir()
    (odd / "1_224p.mp4").write_bytes(b"x")
    running = make_server(results).start_background()
    try:
        keys = [g["key"] for g in get_json(running, "/api/games")["games"]]
        status, _h, body = request(running, "GET", "/api/video?key=" + quote("a game") + "&half=1")
        odd_status, _h, _b = request(running, "GET", "/api/game?key=" + quote("bad\nname"))
    finally:
        running.close()
    assert keys == ["a game"] and status == 404 and b"secret" not in body and odd_status == 404


def nothing_written(tmp_path) -> bool:
    return not (tmp_path / "reviewed").exists()


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b"\xff\xfe", 400),
    (b"[]", 400),
    (json.dumps({"decisions": {"t:99": {"status": "accepted", "half": 1, "position_ms": 0, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"p:1:1:Goal": {"status": "accepted", "half": 1, "position_ms": 0, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "accepted", "half": 3, "position_ms": 0, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "accepted", "half": True, "position_ms": 0, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "accepted", "half": 1, "position_ms": -5, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "accepted", "half": 1, "position_ms": 1.5, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "accepted", "half": 1, "position_ms": 0, "label": "Dance"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "maybe", "half": 1, "position_ms": 0, "label": "Goal"}}}).encode(), 400),
    (json.dumps({"decisions": {"t:0": {"status": "accepted", "half": 1, "position_ms": 0, "label": "Goal",
                                       "visibility": "hidden"}}}).encode(), 400),
    (json.dumps({"decisions": {"../x": {"status": "accepted", "half": 1, "position_ms": 0, "label": "Goal"}}}).encode(), 400),
    (b"[" * 100000 + b"]" * 100000, 400),
])
def test_malformed_corrections_are_4xx_and_write_nothing(server, tmp_path, body, status):
    got, _headers, answer = post_review(server, body)
    assert got == status, answer
    assert "error" in json.loads(answer) and nothing_written(tmp_path)


def test_oversized_untyped_cross_site_or_unknown_posts_are_refused(server, tmp_path):
    ok = json.dumps({"decisions": {}}).encode()
    big = request(server, "POST", f"/api/review?key={quote(GAME)}", None,
                  {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)})
    assert big[0] == 413
    assert post_review(server, ok, headers={"Content-Type": "text/plain"})[0] == 415
    assert post_review(server, ok, headers={"Origin": "http://evil.example"})[0] == 403
    assert post_review(server, ok, key="league/../x")[0] == 404
    no_length = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    no_length.putrequest("POST", f"/api/review?key={quote(GAME)}")
    no_length.putheader("Content-Type", "application/json")
    no_length.endheaders()
    assert no_length.getresponse().status == 411
    no_length.close()
    assert nothing_written(tmp_path)


def test_a_foreign_host_header_is_refused(server):
    status, _h, _b = request(server, "GET", "/api/games", headers={"Host": "evil.example:80"})
    assert status == 403


def test_a_token_is_required_when_set(tree, tmp_path):
    running = make_server(tree.results, tree.season, token="s3cret-token", review_dir=tmp_path / "r").start_background()
    try:
        assert request(running, "GET", "/api/games")[0] == 403
        assert request(running, "GET", "/api/games?token=wrong")[0] == 403
        assert request(running, "GET", "/?token=s3cret-token")[0] == 200
        assert request(running, "GET", "/static/view.js")[0] == 200  # the page's code: no data in it
        assert request(running, "GET", video_path(), headers={"Range": "bytes=0-3"})[0] == 403
        assert post_review(running, {"decisions": {}})[0] == 403
        assert request(running, "GET", "/api/games", headers={"X-Soccerspot-Token": "s3cret-token"})[0] == 200
        assert request(running, "GET", f"{video_path()}&token=s3cret-token", headers={"Range": "bytes=0-3"})[0] == 206
        assert running.url().endswith("/?token=s3cret-token")
    finally:
        running.close()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_the_page_and_its_files_are_served_with_a_strict_policy(server):
    status, headers, body = request(server, "GET", "/")
    assert status == 200 and b"static/view.js" in body and b"http" not in body.replace(b"http-equiv", b"")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for name in ("view.js", "view.css"):
        status, _h, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and b"https://" not in body  # nothing fetched from the internet


def test_the_command_reports_bad_paths_and_ports_in_one_line(tmp_path, capsys):
    assert main(["view", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0] and "not a folder" in err[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["view", str(empty)]) == 1 and "no game here" in capsys.readouterr().err
    assert main(["view", str(empty), "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err


def test_the_static_files_are_installed_with_the_package():
    import importlib.resources

    files = importlib.resources.files("soccerspot.pipeline.view") / "static"
    assert all((files / name).is_file() for name in ("index.html", "view.js", "view.css"))


def test_the_demo_ends_with_a_view_command_that_opens_its_held_out_game(tree, tmp_path):
    import shlex

    from soccerspot.pipeline.cli.view import add_arguments
    from soccerspot.pipeline.demo import format_summary

    # the demo's layout: <out>/season/<game> (videos, labels), <out>/predictions/<game> (results)
    out = tree.season.parent
    (out / "predictions").symlink_to(tree.results) if not (out / "predictions").exists() else None
    summary = {"games": {"train": [], "test": [GAME]}, "classes": [], "a_mAP_loose": 0.5, "a_mAP_tight": 0.4,
               "a_mAP_per_class_loose": {}, "timings_s": {}, "checkpoint": "m", "predictions": "p"}
    last = format_summary(summary, out).splitlines()[-1]
    words = shlex.split(last.split(": ", 1)[1])
    assert words[:2] == ["soccerspot", "view"]
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(words[2:])
    running = make_server(args.path, args.labels)
    try:
        (game,) = running.app.games.values()
        assert game.key == GAME and game.labels == tree.labels and sorted(game.videos) == [1, 2]
        assert running.app.store.review_dir.resolve() == (out / "predictions").resolve() / "reviewed"
    finally:
        running.close()


def test_the_default_review_folder_sits_in_the_results_tree_and_is_not_a_game(tree, tmp_path):
    import shutil

    results = tmp_path / "results"
    shutil.copytree(tree.results, results)
    running = make_server(results, tree.season).start_background()
    try:
        decision = {"t:2": {"status": "rejected", "half": 1, "position_ms": 25000, "label": "Throw-in",
                            "visibility": "not shown"}}
        assert post_review(running, {"decisions": decision})[0] == 200
        keys = [g["key"] for g in get_json(running, "/api/games")["games"]]
    finally:
        running.close()
    assert (results / "reviewed" / GAME / LABELS_FILE).is_file() and keys == [GAME]
    assert len(read_labels(results / "reviewed" / GAME / LABELS_FILE).events) == len(LABELS) - 1


def test_results_without_videos_or_labels_still_open_and_say_what_is_missing(tree):
    running = make_server(tree.results).start_background()  # no --labels: the videos and labels are elsewhere
    try:
        game = get_json(running, f"/api/game?key={quote(GAME)}")
        status, _h, _b = request(running, "GET", video_path())
    finally:
        running.close()
    assert len(game["spots"]) == len(SPOTS) and game["truth"] == [] and not game["has_labels"]
    assert [h["half"] for h in game["halves"]] == [1, 2] and all("no video" in h["problem"] for h in game["halves"])
    assert status == 404


def test_an_accepted_spot_on_a_kept_label_confirms_it_instead_of_doubling_it():
    from soccerspot.data.labels import Event, GameLabels
    from soccerspot.pipeline.view.review import Decision, corrected_labels

    original = GameLabels(url="g", events=[Event(1, 5200, "Goal", "home"), Event(1, 8400, "Corner", "away")])
    goal = Decision("accepted", 1, 5000, "Goal")
    assert corrected_labels(original, {"p:1:5000:Goal": goal}, "g").events == original.events
    far = Decision("accepted", 1, 6300, "Goal")  # more than 1 s away: another goal
    assert len(corrected_labels(original, {"p:1:6300:Goal": far}, "g").events) == 3
    rejected = {"t:0": Decision("rejected", 1, 5200, "Goal"), "p:1:5000:Goal": goal}  # the spot replaces the label
    assert [(e.position_ms, e.label) for e in corrected_labels(original, rejected, "g").events] == [(8400, "Corner"), (5000, "Goal")]
    added = {"n:0": Decision("accepted", 1, 5100, "Goal")}  # an event the reviewer added is always kept
    assert len(corrected_labels(original, added, "g").events) == 3


def test_a_review_of_labels_that_changed_since_says_so(tree, tmp_path):
    import shutil

    season = tmp_path / "season"
    shutil.copytree(tree.season, season)
    running = make_server(tree.results, season, review_dir=tmp_path / "reviewed").start_background()
    try:
        decision = {"t:0": {"status": "rejected", "half": 1, "position_ms": 5200, "label": "Goal", "visibility": "visible"}}
        assert post_review(running, {"decisions": decision})[0] == 200
        assert get_json(running, f"/api/game?key={quote(GAME)}")["problems"] == []
        labels = season / GAME / LABELS_FILE
        labels.write_text(labels.read_text().replace('"Goal"', '"Corner"', 1))
        problems = get_json(running, f"/api/game?key={quote(GAME)}")["problems"]
    finally:
        running.close()
    assert len(problems) == 1 and "changed since this game's review was saved" in problems[0]


def test_the_command_off_loopback_prints_a_token_url_and_stops_cleanly_on_ctrl_c(tree):
    import signal
    import subprocess
    import sys

    entry = "import sys; from soccerspot.pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", entry, "view", str(tree.results), "--labels",
                                str(tree.season), "--host", "0.0.0.0", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        url = lines[2].split()[1]
        assert "token=" in url and "not loopback" in lines[1], lines
        port = int(url.split(":")[2].split("/")[0])
        token = url.split("token=")[1]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/games")
        assert connection.getresponse().status == 403
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", f"/api/games?token={token}")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0 and "Traceback" not in process.stderr.read()
