"""`/api/docs`: the native API's document rendered by Swagger UI, every byte served by the
station itself (the desktop may have no internet, and a docs page must not phone home).

Swagger UI's files come from the `swagger-ui-py` package (only its static folder is used);
the page and its start-up script are ours, in `api/native/static/`. A Content-Security-Policy
of `'self'` keeps the page from loading or calling anything elsewhere.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiohttp import web

from api.native.openapi import OPENAPI_PATH

DOCS_PATH = "/api/docs"
STATIC_PREFIX = "/api/docs/static/"
OURS = Path(__file__).with_name("static")
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                 "favicon-32x32.png", "favicon-16x16.png")
OUR_FILES = ("docs-init.js",)
CSP = ("default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "style-src 'self' 'unsafe-inline'; frame-ancestors 'self'")
PUBLIC_PATHS = (DOCS_PATH, DOCS_PATH + "/", OPENAPI_PATH)


def is_public(path: str) -> bool:
    """The docs page, its assets and the document are readable without a token: they describe
    the API, not the station's data (Swagger UI's Authorize button then takes the token)."""
    return path in PUBLIC_PATHS or path.startswith(STATIC_PREFIX)


def swagger_ui_dir() -> Path | None:
    """The static folder of the installed `swagger_ui` package, found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "static"
    return folder if folder.is_dir() else None


async def docs_page(_request: web.Request) -> web.Response:
    return web.Response(text=(OURS / "docs.html").read_text(encoding="utf-8"),
                        content_type="text/html", headers={"Content-Security-Policy": CSP})


async def docs_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name in OUR_FILES:
        path = OURS / name
    elif name in SWAGGER_FILES and (folder := swagger_ui_dir()) is not None:
        path = folder / name
    else:
        raise web.HTTPNotFound(text='{"detail": "no such file"}', content_type="application/json")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def setup(app: web.Application) -> None:
    app.router.add_get(DOCS_PATH, docs_page)
    app.router.add_get(DOCS_PATH + "/", docs_page)
    app.router.add_get(STATIC_PREFIX + "{name}", docs_asset)
