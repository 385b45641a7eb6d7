"""`soccerspot view`: a local web page to watch a game's spots, compare them with the truth and correct them.

The server is the standard library's `ThreadingHTTPServer` (`server.py`); the page is three static files
(`static/`: HTML, JS, CSS) with no build step and nothing fetched from the internet. Games are found by
`catalog.py`, their timeline data built by `payload.py` (spots, labels, saved scores, replays), videos served
with byte ranges by `media.py` (Matroska remuxed to MP4 without re-encoding), corrections turned into an
official `Labels-v2.json` by `review.py`, and every request checked by `guard.py`.
"""
