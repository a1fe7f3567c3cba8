"""The REST shell: ``/api/v1``, served by the workbench's own process beside the Streamlit app (one DuckDB
writer), acting through ``Workbench.acting(actor)`` like the pages. See README, *Automation API*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.core import PREFIX, Api


def build_api(workbench: Callable[[], Any], limiter: Any = None) -> Api:
    """Every endpoint, over the Workbench ``workbench()`` returns (the process's own, shared one)."""
    from api import routes_jobs, routes_setup, routes_system, routes_webhooks

    api = Api(workbench, limiter)
    for module in (routes_system, routes_jobs, routes_setup, routes_webhooks):
        module.register(api)
    return api


def api_routes(workbench: Callable[[], Any], limiter: Any = None) -> list:
    """The Starlette routes: every endpoint, the OpenAPI document and the docs page. ``limiter``: the rate limit
    (default: from the settings, on the first request)."""
    from starlette.responses import HTMLResponse, JSONResponse

    from api.openapi import docs_page, document

    api = build_api(workbench, limiter)
    doc = document(api.endpoints)

    async def openapi(request):
        return JSONResponse(doc, headers={"cache-control": "no-cache"})

    async def docs(request):
        return HTMLResponse(docs_page(doc))

    from starlette.routing import Route

    return [Route(f"{PREFIX}/openapi.json", openapi, methods=["GET"]), Route(f"{PREFIX}/docs", docs, methods=["GET"]),
            *api.routes()]
