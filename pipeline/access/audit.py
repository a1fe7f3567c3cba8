"""The audit log: every state-changing action, who took it, when, in which workspace, from where.

Rows are only ever appended (no method updates or deletes one; a restore keeps them); owners read and export
them through ``pipeline.queries.audit``.
"""

from __future__ import annotations

from typing import Any

MAX_DETAIL = 2000


def record(cur: Any, actor: Any, action: str, target: object = None, detail: object = None,
           workspace_id: int | None = None) -> None:
    """Append one entry inside the caller's transaction (``cur``) or in its own (a Database)."""
    ws = workspace_id if workspace_id is not None else getattr(actor, "workspace_id", None)
    row = [getattr(actor, "user_id", None), getattr(actor, "email", None), ws, action,
           None if target is None else str(target)[:500], None if detail is None else str(detail)[:MAX_DETAIL],
           getattr(actor, "client", None)]
    sql = ("INSERT INTO audit_log (user_id, email, workspace_id, action, target, detail, client)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)")
    if hasattr(cur, "write"):
        with cur.write() as w:
            w.execute(sql, row)
    else:
        cur.execute(sql, row)
