"""Health, readiness, Prometheus metrics, who the token is, and the API's own document and docs page."""

from __future__ import annotations

from api import models as m
from api.core import Api, Call
from api.openapi import VERSION


def register(api: Api) -> None:
    @api.route("GET", "/health", summary="Liveness", tag="system", permission=None, response=m.Health,
               workbench=False)
    def health(call: Call):
        """200 while the process serves requests (no token needed; it does not touch the database)."""
        return {"status": "ok", "version": VERSION}

    @api.route("GET", "/ready", summary="Readiness", tag="system", permission=None, response=m.Ready,
               errors=(503,))
    def ready(call: Call):
        """200 when the database answers and the worker runs; 503 (with what is wrong) otherwise."""
        wb = call.wb
        checks = {}
        try:
            wb.raw_db.query_one("SELECT count(*) FROM jobs WHERE status = 'running'")
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not fail
            checks["database"] = f"failing: {type(exc).__name__}"
        checks["worker"] = "ok" if wb.worker.running else "stopped"
        ok = all(v == "ok" for v in checks.values())
        return (200 if ok else 503), {"status": "ready" if ok else "not ready", "checks": checks}

    @api.route("GET", "/metrics", summary="Prometheus metrics", tag="system", response=None,
               media={"text/plain; version=0.0.4": "Prometheus text format"})
    def metrics(call: Call):
        """Jobs by state, stage durations, spend, YouTube quota used and webhook deliveries, in the Prometheus
        text format, for the token's workspaces (an owner token on all workspaces: the whole installation)."""
        from starlette.responses import Response

        from pipeline.metrics import build_registry, render

        body, content_type = render(build_registry(call.wb.db, call.wb.settings, version=VERSION))
        return Response(body, media_type=content_type)

    @api.route("GET", "/me", summary="Who this token acts as", tag="system", response=m.Me)
    def me(call: Call):
        from pipeline.access.actor import PERMISSIONS

        a = call.actor
        return {"user_id": a.user_id, "email": a.email, "name": a.name, "role": a.role,
                "workspace_id": a.workspace_id, "workspaces": sorted(a.workspaces),
                "permissions": [p for p in PERMISSIONS if a.can(p)]}
