"""``/api/docs``: Swagger UI served from this server's own files, never from a CDN.

A closed network (a command centre without internet) must still read the API, and a page
that loads a public CDN's script runs whatever that CDN serves. Swagger UI's files come
from the ``fastapi-offline`` wheel (it vendors Swagger UI's distribution, so the Python-only
install carries them) and are served under ``/api/docs/static/``; the page starts Swagger
UI from a script of ours (``/api/docs/init.js``) instead of FastAPI's inline one, so the
console's Content-Security-Policy (:mod:`siaga.headers`, scripts from ``'self'`` only)
applies to the docs too.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/api/docs"
STATIC_URL = f"{DOCS_URL}/static"
#: Swagger UI's distribution files (swagger-ui-bundle.js, swagger-ui.css, favicon.png).
SWAGGER_FILES = Path(str(files("fastapi_offline") / "static"))

router = APIRouter(include_in_schema=False)


def page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} — API</title>
<link rel="stylesheet" href="{STATIC_URL}/swagger-ui.css">
<link rel="icon" href="{STATIC_URL}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{STATIC_URL}/swagger-ui-bundle.js"></script>
<script src="{DOCS_URL}/init.js"></script>
</body>
</html>
"""


INIT_JS = """"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
"""


@router.get(f"{DOCS_URL}/init.js")
async def init_script() -> Response:
    return Response(INIT_JS, media_type="text/javascript")


def mount(app: FastAPI) -> None:
    """Serve the docs page, its start script and Swagger UI's files."""
    html = page(app.title, app.openapi_url or "/api/openapi.json")

    async def docs() -> HTMLResponse:
        return HTMLResponse(html)

    app.add_api_route(DOCS_URL, docs, include_in_schema=False)
    app.include_router(router)
    app.mount(STATIC_URL, StaticFiles(directory=SWAGGER_FILES), name="swagger-ui")
