"""``/api/v1/docs``: Swagger UI served from the package, offline, under a strict CSP.

The UI's files are vendored in ``shipyard/api/static/swagger-ui`` (``VERSION.md`` says
which release and its licence), so the page fetches nothing from outside the server:
its Content-Security-Policy allows scripts, styles, images and requests from this
origin only, and no inline script (the UI is started by ``init.js``). A browser gets
in with a session cookie from ``/api/v1/sign-in`` (``_session.py``); a client with a
bearer token may read it too.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from shipyard.api._auth import permit
from shipyard.api._session import DOCS, SIGN_OUT

ASSETS = f"{DOCS}/assets"
#: The files the page may load: a fixed list, so no request path ever names a file.
FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shipyard API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png"></head>
<body><form method="post" action="{SIGN_OUT}"><button type="submit">Sign out</button></form>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="{ASSETS}/init.js"></script></body></html>"""

router = APIRouter(include_in_schema=False)


def _asset(name: str) -> bytes:
    return resources.files("shipyard.api").joinpath("static", "swagger-ui", name).read_bytes()


@router.get(DOCS, **permit("read"))
def docs_page() -> HTMLResponse:
    """The Swagger UI page over ``/api/v1/openapi.json``."""
    return HTMLResponse(PAGE, headers={**_HEADERS, "Cache-Control": "no-store"})


def _asset_route(name: str, media: str) -> None:
    def asset() -> Response:
        return Response(_asset(name), media_type=media,
                        headers={**_HEADERS, "Cache-Control": "private, max-age=3600"})

    asset.__name__ = "docs_asset_" + name.replace("-", "_").replace(".", "_")
    router.add_api_route(f"{ASSETS}/{name}", asset, methods=["GET"], **permit("read"))


for _name, _media in FILES.items():
    _asset_route(_name, _media)
