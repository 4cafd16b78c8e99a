"""Which browser pages may open the server's WebSockets (``/ws``, the console stream).

A browser sends ``Origin`` with every WebSocket handshake and lets any page open a socket
to any server, so without this check a page elsewhere could drive a user's radio with a
token it obtained some way (cross-site WebSocket hijacking). Rules:

1. No ``Origin`` header: allowed. Native clients (``siaga-radio``, the websockets library)
   send none; a browser always does.
2. An origin equal to the configured public URL's (``SIAGA_PUBLIC_URL``) is allowed.
3. An origin equal to the server's own as the request names it (the ``Host`` header, with
   ``http`` for ``ws`` and ``https`` for ``wss``) is allowed: a page served by this server,
   whatever name it was reached by (``make run``'s 127.0.0.1 and localhost alike). A page
   elsewhere cannot choose the ``Host`` its browser sends.
4. Anything else (another site, ``null`` from a sandbox or a file) is refused.

Origins are compared as (scheme, host, port), with the scheme's default port filled in and
the host in lower case.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def _parse(url: str) -> tuple[str, str, int] | None:
    scheme, _, rest = url.partition("://")
    return _origin(scheme.lower(), rest.split("/", 1)[0]) if rest else None


def origin_allowed(origin: str | None, *, host: str | None, secure: bool,
                   public_url: str) -> bool:
    """Whether a handshake with ``origin`` may proceed (rules 1-4)."""
    if origin is None:
        return True
    given = _parse(origin)
    if given is None:
        return False
    if given == _parse(public_url):
        return True
    own = _origin("https" if secure else "http", host) if host else None
    return given == own
