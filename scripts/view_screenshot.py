"""Screenshot of `soccerspot view` on a game, in headless Chromium (Playwright), for the README.

    python scripts/view_screenshot.py demo_out/predictions/synthetic_league/season/test-game-00 \
        --labels demo_out/season --out docs/view.png

The page is opened, a few spots are stepped through (one accepted, one rejected, one nudged) into a
throw-away review folder (or --review-dir), and the page is shot with the last one selected. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("view.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--size", default="1440x900")
    parser.add_argument("--task", default="spotting", help="the task of the spots (soccerspot view --task)")
    parser.add_argument("--review-dir", type=Path, default=None, help="default: a throw-away temporary folder")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from soccerspot.pipeline.view.server import make_server

    width, height = map(int, args.size.split("x"))
    review = args.review_dir or Path(tempfile.mkdtemp(prefix="view-shot-"))
    running = make_server(args.path, args.labels, review_dir=review, task=args.task).start_background()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(running.url())
            page.wait_for_selector("body[data-ready]")
            page.wait_for_function("() => document.getElementById('video').readyState >= 2")
            for key in ("n", "n", "n", "a", "n", "x", "n", "]"):
                page.keyboard.press(key)
                time.sleep(0.2)
            time.sleep(2.0)  # the half-second of preroll, the seek and the save
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        running.close()
        if args.review_dir is None:
            shutil.rmtree(review, ignore_errors=True)
    print(json.dumps({"screenshot": str(args.out), "size": [width, height]}))


if __name__ == "__main__":
    main()
