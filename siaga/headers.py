"""Browser protections on every HTTP answer: what a page may load, who may frame it, no
content sniffing, no referrer.

The console and the officers' app load only their own files (no inline script, no CDN), so
the policy allows ``'self'`` and, for map tiles, the configured tile server's origin; media
plays from ``blob:`` URLs (recordings) and WebRTC streams. A route that sets its own
``Content-Security-Policy`` (the crews' status page) keeps it. The API docs page is under
the same policy: Swagger UI is served from our own files (:mod:`siaga.apidocs`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def tile_origin(template: str | None) -> str:
    """The origin of a Leaflet tile URL template, as a CSP source (``{s}`` → ``*``)."""
    if not template:
        return ""
    parts = urlsplit(template.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    if "{" in parts.netloc:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(tile_url: str | None) -> str:
    tiles = tile_origin(tile_url)
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{' ' + tiles if tiles else ''}",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tile_url: str | None) -> None:
        self.app = app
        self.csp = content_security_policy(tile_url).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy", self.csp),
                ]
                headers += [(k, v) for k, v in wanted if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
