"""Who may talk to the server: loopback by default; any other address needs the start-up token.

- `--host` other than loopback: every data request (games, videos, corrections) must carry `token=<token>`
  (query) or an `X-Soccerspot-Token` header, compared in constant time; the printed URL carries it and the
  page passes it on. The page's own three files hold no data and load without it.
- The Host header must name this server (a web page elsewhere cannot reach it through DNS rebinding), and a
  POST must be `application/json` from this server's own origin (no cross-site form posts).
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class Guard:
    host: str
    port: int
    token: str | None  # None on loopback

    def allowed_hosts(self) -> set[str]:
        names = {self.host, *LOOPBACK_NAMES} if is_loopback(self.host) else {self.host, socket.gethostname()}
        if not is_loopback(self.host):
            try:
                names.add(socket.getfqdn())
            except OSError:
                pass
        if self.host in ("0.0.0.0", "::"):
            return set()  # any name: the token is the check
        return {f"{n}:{self.port}" for n in names} | {f"[{n}]:{self.port}" for n in names}

    def host_ok(self, header: str | None) -> bool:
        allowed = self.allowed_hosts()
        return not allowed or (header or "").lower() in {a.lower() for a in allowed}

    def token_ok(self, query_token: str | None, header_token: str | None) -> bool:
        if self.token is None:
            return True
        given = header_token or query_token or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """A POST's Origin (when the browser sends one) must be this server."""
        if origin is None:
            return True
        return urlsplit(origin).netloc.lower() == (host_header or "").lower()
