"""The OpenAPI 3.1 document, made from the endpoint declarations and their pydantic models, and the docs page.

The docs page is rendered here from the same document (no JavaScript from a CDN: the workbench runs offline).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.core import PREFIX, Endpoint
from api.problems import PROBLEM_JSON, TYPE_ROOT

VERSION = "1.0.0"
STATUS_WORDS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 206: "Partial content",
                304: "Not modified", 400: "Bad request (malformed JSON, query or cursor)", 401: "No valid token",
                403: "The token's role may not do this", 404: "Not found in the token's workspace",
                409: "Not possible in this state", 413: "Body too large", 416: "Range not satisfiable",
                422: "Invalid input: `errors` lists each field", 429: "Rate limited: see Retry-After",
                503: "Busy: retry"}

PROBLEM_SCHEMA = {
    "type": "object", "description": "RFC 9457 problem details.",
    "properties": {"type": {"type": "string", "format": "uri", "examples": [TYPE_ROOT + "not-found"]},
                   "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                   "instance": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object", "properties": {
                       "field": {"type": "string"}, "message": {"type": "string"}}}}},
    "required": ["type", "title", "status", "detail"],
}


def _query_parameters(model: type[BaseModel], defs: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        many = "array" in json.dumps(prop.get("anyOf", prop))
        param = {"name": name, "in": "query", "required": name in required, "schema": prop,
                 "description": prop.get("description", "")}
        if many:
            param.update(style="form", explode=True)
        params.append(param)
    return params


def document(endpoints: list[Endpoint], server: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints`` (components from their models)."""
    models = {e.response for e in endpoints if e.response} | {e.body for e in endpoints if e.body}
    _, top = models_json_schema([(mdl, "validation" if mdl in {e.body for e in endpoints} else "serialization")
                                 for mdl in sorted(models, key=lambda x: x.__name__)],
                                ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict] = {}
    for e in endpoints:
        op: dict[str, Any] = {"operationId": e.name, "summary": e.summary, "tags": [e.tag],
                              "description": e.description, "responses": {}}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
                  for n in re.findall(r"\{(\w+):int\}", e.path)]
        if e.query:
            params += _query_parameters(e.query, schemas)
        if e.creates:
            params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "maxLength": 200},
                           "description": "Retrying with the same key returns the first answer; never a second one."})
        if params:
            op["parameters"] = params
        if e.body:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{e.body.__name__}"}}}}
        if e.response:
            content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{e.response.__name__}"}}}
            op["responses"][str(e.status)] = {"description": STATUS_WORDS.get(e.status, "OK"), "content": content}
            if e.creates and e.status == 201:
                op["responses"]["200"] = {"description": "Already made: the Idempotency-Key was seen before",
                                          "content": content}
        else:
            op["responses"]["200"] = {"description": "OK", "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in (e.media or {"application/octet-stream": ""})}}
            if 416 in e.errors:
                op["responses"]["206"] = {"description": "Partial content (a Range request)"}
        for code in sorted({*e.errors, *((401, 429) if e.permission else ())}):
            op["responses"][str(code)] = {"description": STATUS_WORDS.get(code, ""), "content": {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if e.permission:
            op["security"] = [{"bearer": []}]
            op["x-permission"] = e.permission
        paths.setdefault(e.openapi_path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "YTEmpire API", "version": VERSION,
                 "description": "Make, publish and account for videos on a running YTEmpire workbench. Tokens: the "
                                "Account page. Errors: RFC 9457 problem details. Lists: cursor pagination. "
                                "Events: signed webhooks (Standard Webhooks)."},
        "servers": [{"url": server or "/"}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "A personal API token (yte_...)."}}},
    }


def docs_page(doc: dict) -> str:
    """A readable page of the document: each endpoint, its parameters, body and answers."""
    parts = [f"<h1>{html.escape(doc['info']['title'])} <small>{html.escape(doc['info']['version'])}</small></h1>",
             f"<p>{html.escape(doc['info']['description'])}</p>",
             f'<p>Machine-readable: <a href="{PREFIX}/openapi.json">{PREFIX}/openapi.json</a> (OpenAPI 3.1). '
             "Authenticate with <code>Authorization: Bearer yte_…</code>.</p>"]
    by_tag: dict[str, list] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            by_tag.setdefault(op["tags"][0], []).append((path, method, op))
    for tag, ops in by_tag.items():
        parts.append(f"<h2>{html.escape(tag)}</h2>")
        for path, method, op in ops:
            parts.append(f'<section id="{op["operationId"]}"><h3><code>{method.upper()} {html.escape(path)}</code> '
                         f"{html.escape(op['summary'])}</h3><p>{html.escape(op.get('description', ''))}</p>")
            if op.get("x-permission"):
                parts.append(f"<p>Needs the <b>{op['x-permission']}</b> permission.</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<table><tr><th>Parameter</th><th>In</th><th>Description</th></tr>" + "".join(
                    f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
                    f"<td>{html.escape(p.get('description', ''))}</td></tr>" for p in params) + "</table>")
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                parts.append(f'<p>Body: <a href="#schema-{ref}">{ref}</a></p>')
            parts.append("<p>Answers: " + ", ".join(f"{c} {html.escape(r['description'])}"
                                                    for c, r in op["responses"].items()) + "</p></section>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in doc["components"]["schemas"].items():
        parts.append(f'<h3 id="schema-{name}">{name}</h3><pre>{html.escape(json.dumps(schema, indent=1))}</pre>')
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
             "code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto;max-height:20rem}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
             "section{border-top:1px solid #eee;padding:.3rem 0}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>YTEmpire API</title>'
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
