"""`soccerspot view`: a local web page to watch a game's spots, compare them with the truth and correct them.

Exit codes: 1 for a PATH or --labels with no game (one line naming it), 2 for a flag that cannot work
(a port in use, a host that cannot be bound), each with one line on stderr.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soccerspot.data.tasks import action_task_names

HELP = "watch, check and correct a game's spots in the browser (a local web page)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", type=Path,
                        help="a game folder, a results tree (spot's or archive's --out) or a SoccerNet tree")
    parser.add_argument("--labels", metavar="ROOT", type=Path, default=None,
                        help="the source tree: <game>/Labels-v2.json (the task's labels file) and the half videos, "
                             "when they are not beside the results (the demo's season/, archive's input)")
    parser.add_argument("--task", choices=action_task_names(), default=None,
                        help="what the spots are (data/tasks.py): its labels file, classes, teams and the tolerance "
                             "of a hit; ball: Labels-ball.json, 12 classes, each team on its side of a lane, hits "
                             "within ±12.5 frames (default: read from PATH, the classes of its "
                             "results_spotting.json, else its labels files; spotting when neither tells)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1); any other than loopback requires the "
                             "token printed at start-up")
    parser.add_argument("--review-dir", metavar="DIR", type=Path, default=None,
                        help="where corrected labels go, as <DIR>/<game>/Labels-v2.json (the task's labels file) "
                             "with review.json (default PATH/reviewed); train with --labels-root DIR")
    parser.add_argument("--overwrite-labels", action="store_true",
                        help="write corrections over the game's own Labels-v2.json instead (the original is "
                             "kept once as Labels-v2.original.json)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    import errno

    from soccerspot.pipeline.view.guard import is_loopback, new_token
    from soccerspot.pipeline.view.server import make_server
    from soccerspot.pipeline.reports.tree_task import task_of_tree

    if not 0 <= args.port <= 65535:
        print(f"soccerspot view: error: --port {args.port} must be 0..65535", file=sys.stderr)
        return 2
    token = None if is_loopback(args.host) else new_token()
    found = None if args.task else task_of_tree(args.path, args.labels)
    task = args.task or found.name
    try:
        running = make_server(args.path, args.labels, host=args.host, port=args.port, review_dir=args.review_dir,
                              in_place=args.overwrite_labels, token=token, quiet=not args.verbose,
                              task=task)
    except OSError as error:
        reason = "is in use (try --port 0)" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error.strerror})"
        print(f"soccerspot view: error: --host {args.host} --port {args.port} {reason}", file=sys.stderr)
        return 2
    games = running.app.games
    target = f"over each game's {running.app.task.labels_file}" if args.overwrite_labels else \
        f"to {running.app.store.review_dir}"
    told = "" if found is None else f" (task {task}, read from {found.reason}: --task to choose)"
    print(f"soccerspot view: {len(games)} game(s) from {args.path}{told}; corrections saved {target}")
    if token is not None:
        print(f"  listening on {args.host} (not loopback): the page needs the token in this URL")
    print(f"  open {running.url()}   (Ctrl-C to stop)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(running.url().replace("0.0.0.0", "127.0.0.1"))
    try:
        running.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
    return 0
