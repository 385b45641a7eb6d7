"""The HTTP server of `soccerspot view`: the standard library's ThreadingHTTPServer and one handler.

Routes (all GET also answer HEAD):
  /, /static/view.js, /static/view.css   the page (a fixed list: no other name is served)
  /api/games                            the games with counts per class and review progress
  /api/game?key=K                       one game's timeline data (payload.game_payload)
  /api/video?key=K&half=H               the half's video, with byte ranges (remuxed where needed)
  POST /api/review?key=K                {"decisions": {...}} -> corrected labels (the task's file) + review.json
Games and files are looked up by key in the catalog, never from a path in the URL.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from soccerspot.data.tasks import TaskSpec, task_spec
from soccerspot.errors import DataError
from soccerspot.pipeline.view.catalog import ViewGame, find_view_games, inside, odd_name
from soccerspot.pipeline.view.guard import Guard
from soccerspot.pipeline.view.media import RangeNotSatisfiable, RemuxCache, parse_range
from soccerspot.pipeline.view.payload import game_payload, games_listing, prediction_id, read_spots
from soccerspot.pipeline.view.review import BadReview, ReviewStore, allowed_classes, parse_decisions

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "view.js": "text/javascript; charset=utf-8",
                "view.css": "text/css; charset=utf-8"}
PAGE_PATHS = {"/", "/index.html", "/static/view.js", "/static/view.css"}
MAX_BODY = 2 * 1024 * 1024
REVIEW_DIR = "reviewed"
CHUNK = 256 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


@dataclass
class ViewApp:
    root: Path
    labels_root: Path | None
    store: ReviewStore
    guard: Guard
    cache: RemuxCache
    task: TaskSpec = field(default_factory=lambda: task_spec("spotting"))  # labels file, classes, teams, hits
    games: dict[str, ViewGame] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rescan(self) -> list[ViewGame]:
        games = [g for g in find_view_games(self.root, self.labels_root, self.task.labels_file)
                 if not _under(g.folder, self.store.review_dir)]
        with self.lock:
            self.games = {g.key: g for g in games}
        return games

    def game(self, key: str | None) -> ViewGame | None:
        if not key or len(key) > 1024 or any(odd_name(part) for part in key.split("/")):
            return None
        with self.lock:
            return self.games.get(key)


def _under(folder: Path | None, parent: Path) -> bool:
    if folder is None:
        return False
    try:
        folder.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        self.status, self.message = status, message
        super().__init__(message)


class Handler(BaseHTTPRequestHandler):
    server_version = "soccerspot-view"
    protocol_version = "HTTP/1.1"
    app: ViewApp  # set on the subclass the server makes
    quiet = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if not self.quiet:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ plumbing

    def _query(self) -> dict[str, str]:
        parsed = parse_qs(urlsplit(self.path).query, keep_blank_values=True, max_num_fields=20)
        return {k: v[0] for k, v in parsed.items()}

    def _check(self) -> None:
        if not self.app.guard.host_ok(self.headers.get("Host")):
            raise HttpError(HTTPStatus.FORBIDDEN, "unknown Host header")
        if self.command != "POST" and urlsplit(self.path).path in PAGE_PATHS:
            return  # the page's own code holds no data; its script and style sheet are fetched without the token
        if not self.app.guard.token_ok(self._query().get("token"), self.headers.get("X-Soccerspot-Token")):
            raise HttpError(HTTPStatus.FORBIDDEN, "missing or wrong token (use the URL printed at start-up)")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: object, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _error(self, error: HttpError) -> None:
        self.close_connection = True
        self._json({"error": error.message}, error.status)

    def _dispatch(self, routes: dict) -> None:
        try:
            self._check()
            route = routes.get(urlsplit(self.path).path)
            if route is None:
                raise HttpError(HTTPStatus.NOT_FOUND, "no such page")
            route()
        except HttpError as error:
            self._error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch({"/": lambda: self._static("index.html"), "/index.html": lambda: self._static("index.html"),
                        "/static/view.js": lambda: self._static("view.js"),
                        "/static/view.css": lambda: self._static("view.css"),
                        "/api/games": self._games, "/api/game": self._game, "/api/video": self._video})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch({"/api/review": self._review})

    # ------------------------------------------------------------------ routes

    def _static(self, name: str) -> None:
        self._send(HTTPStatus.OK, (STATIC_DIR / name).read_bytes(), STATIC_FILES[name])

    def _games(self) -> None:
        try:
            games = self.app.rescan()
        except DataError as error:
            raise HttpError(HTTPStatus.NOT_FOUND, str(error)) from None
        self._json({"root": str(self.app.root), "labels_root": None if self.app.labels_root is None
                    else str(self.app.labels_root), "review_dir": str(self.app.store.review_dir),
                    "in_place": self.app.store.in_place, "games": games_listing(games, self.app.store, self.app.task)})

    def _find_game(self) -> ViewGame:
        game = self.app.game(self._query().get("key"))
        if game is None:
            raise HttpError(HTTPStatus.NOT_FOUND, "no such game")
        return game

    def _game(self) -> None:
        game = self._find_game()
        try:
            self._json(game_payload(game, self.app.store, self.app.task))
        except DataError as error:
            raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, str(error)) from None

    def _video(self) -> None:
        game = self._find_game()
        half = self._query().get("half")
        video = game.videos.get(int(half)) if half in ("1", "2") else None
        if video is None:
            raise HttpError(HTTPStatus.NOT_FOUND, "no video for this half")
        roots = [self.app.root.resolve()] + ([] if self.app.labels_root is None else [self.app.labels_root.resolve()])
        if not inside(video, roots):  # re-checked: a file may have been swapped for a symlink since the scan
            raise HttpError(HTTPStatus.FORBIDDEN, "file outside the served folders")
        try:
            path, mime = self.app.cache.playable(video)
        except (ValueError, OSError) as error:
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{video.name}: {error}") from None
        self._send_file(path, mime)

    def _send_file(self, path: Path, mime: str) -> None:
        size = path.stat().st_size
        try:
            span = parse_range(self.headers.get("Range"), size)
        except RangeNotSatisfiable as error:
            self.close_connection = True
            body = json.dumps({"error": str(error)}).encode()
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, body, "application/json",
                       {"Content-Range": f"bytes */{size}"})
            return
        first, last = span if span is not None else (0, size - 1)
        length = max(0, last - first + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span is not None else HTTPStatus.OK)
        self.send_header("Content-Type", mime)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if span is not None:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        with path.open("rb") as handle:
            handle.seek(first)
            left = length
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def _review(self) -> None:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "POST application/json")
        if not self.app.guard.origin_ok(self.headers.get("Origin"), self.headers.get("Host")):
            raise HttpError(HTTPStatus.FORBIDDEN, "cross-origin POST refused")
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
        length = int(length_text)
        if length > MAX_BODY:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
        game = self._find_game()
        body = self.rfile.read(length)
        if len(body) != length:
            raise HttpError(HTTPStatus.BAD_REQUEST, "body shorter than its Content-Length")
        try:
            obj = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HttpError(HTTPStatus.BAD_REQUEST, "body is not JSON") from None
        spots, _ = read_spots(game)
        try:
            original = self.app.store.original_labels(game.labels)
        except DataError as error:
            raise HttpError(HTTPStatus.CONFLICT, str(error)) from None
        truth_ids = {f"t:{i}" for i in range(len(original.events) if original is not None else 0)}
        spot_ids = {prediction_id(p) for p in spots}
        classes = allowed_classes([p.label for p in spots], [e.label for e in (original.events if original else [])],
                                  known=self.app.task.classes)
        try:
            decisions = parse_decisions(obj, spot_ids | truth_ids, classes, self.app.task.teams)
        except BadReview as error:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(error)) from None
        record = self.app.store.save(game.key, decisions, original, game.labels,
                                     game.folder or self.app.root, total=len(spot_ids) + len(truth_ids))
        self._json({k: record[k] for k in ("labels", "saved_at", "progress", "events")})


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a browser dropping a range request
            super().handle_error(request, client_address)


def default_review_dir(root: Path, games: list[ViewGame]) -> Path:
    """`<results root>/reviewed`: PATH/reviewed for a tree; for a game folder given itself, the folder its key
    hangs from (the demo's `predictions/`), so a game opened either way keeps one review."""
    if len(games) == 1 and games[0].folder is not None and games[0].folder.resolve() == root.resolve():
        depth = len(games[0].key.split("/"))
        base = root if len(root.parts) > depth else root.resolve()  # keep the user's relative path to print
        return base.parents[depth - 1] / REVIEW_DIR
    return root / REVIEW_DIR


@dataclass
class RunningServer:
    server: ThreadingHTTPServer
    app: ViewApp
    thread: threading.Thread | None = None
    temp: Path | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self) -> str:
        host = self.app.guard.host
        shown = f"[{host}]" if ":" in host else host
        token = f"?token={self.app.guard.token}" if self.app.guard.token else ""
        return f"http://{shown}:{self.port}/{token}"

    def start_background(self) -> "RunningServer":
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown() if self.thread is not None else None
        self.server.server_close()
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)


def make_server(root: Path, labels_root: Path | None = None, *, host: str = "127.0.0.1", port: int = 0,
                review_dir: Path | None = None, in_place: bool = False, token: str | None = None,
                quiet: bool = True, task: TaskSpec | str = "spotting") -> RunningServer:
    """Bind the server (port 0: any free port); games are scanned now (DataError when there are none). `task`
    (`data.tasks`) names the labels file, the classes, the teams and the hit tolerance."""
    import socket

    root = Path(root)
    task = task_spec(task) if isinstance(task, str) else task
    store = ReviewStore(Path(review_dir) if review_dir is not None else root / REVIEW_DIR, in_place=in_place,
                        labels_file=task.labels_file, same_action_ms=round(task.hit_seconds * 1000),
                        teams=task.teams)
    temp = Path(tempfile.mkdtemp(prefix="soccerspot-view-"))
    app = ViewApp(root=root, labels_root=None if labels_root is None else Path(labels_root), store=store,
                  guard=Guard(host, port, token), cache=RemuxCache(temp), task=task)
    try:
        games = app.rescan()
        if review_dir is None:
            store.review_dir = default_review_dir(root, games)
        handler = type("BoundHandler", (Handler,), {"app": app, "quiet": quiet})
        server_class = QuietServer
        if ":" in host:
            server_class = type("V6Server", (QuietServer,), {"address_family": socket.AF_INET6})
        server = server_class((host, port), handler)
        server.daemon_threads = True
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    app.guard.port = server.server_address[1]
    return RunningServer(server, app, temp=temp)
