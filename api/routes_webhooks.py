"""Webhooks: register receivers, switch them, send a test event, read the delivery log and replay from it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.core import Api, Call, decode_cursor, encode_cursor
from api.problems import Problem
from api.models import PageQuery, Strict
from pipeline import events


EventName = Literal[events.TYPE_NAMES]  # type: ignore[valid-type]


class WebhookCreate(Strict):
    url: str = Field(..., min_length=8, max_length=2000, description="Where events are POSTed (http or https).")
    events: list[EventName] = Field(
        default_factory=list, max_length=len(events.TYPE_NAMES), description="Event types to send (empty: all).")
    description: str = Field("", max_length=200)


class WebhookPatch(Strict):
    enabled: bool = Field(..., description="false turns it off; true turns it on again and sends what waited.")


class Webhook(BaseModel):
    id: int
    workspace_id: int | None = Field(None, description="null: an owner's webhook for every workspace.")
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(None, description="Why it was turned off (repeated failures, 410 Gone).")
    disabled_at: datetime | None = None
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    created_at: datetime


class WebhookCreated(Webhook):
    secret: str | None = Field(None, description="The signing secret (whsec_...): shown in this answer only.")


class WebhookList(BaseModel):
    items: list[Webhook]


class EventType(BaseModel):
    type: str
    description: str


class EventTypes(BaseModel):
    items: list[EventType]


class TestSent(BaseModel):
    event_id: str = Field(..., description="The webhook-id header the receiver will see.")


class Delivery(BaseModel):
    id: int
    webhook_id: int
    url: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    replay_of: int | None = None


class DeliveryList(BaseModel):
    items: list[Delivery]
    next_cursor: str | None = None


class Attempt(BaseModel):
    attempt: int
    at_time: datetime
    status_code: int | None = None
    duration_ms: float | None = None
    error: str | None = None
    response: str | None = None


class DeliveryDetail(Delivery):
    attempt_log: list[Attempt]
    payload: str | None = Field(None, description="The exact body sent (null once pruned).")


class Replayed(BaseModel):
    delivery_id: int


def register(api: Api) -> None:
    @api.route("GET", "/events", summary="Event types", tag="webhooks", response=EventTypes)
    def event_types(call: Call):
        """Every event a webhook can receive, with what it means."""
        return {"items": [{"type": t, "description": d} for t, d in events.EVENT_TYPES]}

    @api.route("GET", "/webhooks", summary="List webhooks", tag="webhooks", response=WebhookList)
    def list_webhooks(call: Call):
        return {"items": call.wb.webhooks.list(call.actor)}

    @api.route("POST", "/webhooks", summary="Register a webhook", tag="webhooks", permission="channels",
               body=WebhookCreate, response=WebhookCreated, status=201, creates=True, redact=("secret",),
               errors=(401, 403, 422))
    def create_webhook(call: Call):
        """Events are POSTed as JSON signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
        `webhook-signature` with the secret in this answer). Receivers on private or loopback addresses are
        refused unless the owner allows them (Settings). A retry with the same Idempotency-Key returns the
        webhook without its secret."""
        b: WebhookCreate = call.body
        return call.wb.webhooks.create(call.actor, b.url, list(b.events) or None, b.description)

    @api.route("GET", "/webhooks/{webhook_id:int}", summary="One webhook", tag="webhooks", response=Webhook,
               errors=(401, 404))
    def get_webhook(call: Call):
        return call.wb.webhooks.get(call.actor, call.path["webhook_id"])

    @api.route("PATCH", "/webhooks/{webhook_id:int}", summary="Turn a webhook on or off", tag="webhooks",
               permission="channels", body=WebhookPatch, response=Webhook, errors=(401, 403, 404))
    def patch_webhook(call: Call):
        return call.wb.webhooks.set_enabled(call.actor, call.path["webhook_id"], call.body.enabled)

    @api.route("DELETE", "/webhooks/{webhook_id:int}", summary="Delete a webhook", tag="webhooks",
               permission="channels", response=Webhook, errors=(401, 403, 404))
    def delete_webhook(call: Call):
        """Deletes it with its delivery log; answers with what it was."""
        gone = call.wb.webhooks.get(call.actor, call.path["webhook_id"])
        call.wb.webhooks.delete(call.actor, call.path["webhook_id"])
        return gone

    @api.route("POST", "/webhooks/{webhook_id:int}/test", summary="Send a test event", tag="webhooks",
               permission="channels", response=TestSent, status=202, errors=(401, 403, 404, 422))
    def test_webhook(call: Call):
        """Queues a `webhook.test` event for this webhook only; its delivery appears in the log."""
        return {"event_id": call.wb.webhooks.send_test(call.actor, call.path["webhook_id"])}

    @api.route("GET", "/webhooks/{webhook_id:int}/deliveries", summary="Delivery log", tag="webhooks",
               query=PageQuery, response=DeliveryList, errors=(401, 404))
    def deliveries(call: Call):
        """Newest first: each event sent to this webhook, its status, attempts, last HTTP status and error."""
        q: PageQuery = call.query
        at = decode_cursor(q.cursor, ("before",))
        rows = call.wb.webhooks.deliveries(call.actor, call.path["webhook_id"], limit=q.limit,
                                           before=at["before"] if at else None)
        cursor = encode_cursor({"before": rows[-1]["id"]}) if len(rows) == q.limit else None
        return {"items": rows, "next_cursor": cursor}

    @api.route("GET", "/webhooks/deliveries/{delivery_id:int}", summary="One delivery with its attempts",
               tag="webhooks", response=DeliveryDetail, errors=(401, 404))
    def delivery(call: Call):
        delivery_id = call.path["delivery_id"]
        attempts = call.wb.webhooks.attempts(call.actor, delivery_id)  # 404 (NotInWorkspace) when not the actor's
        found = [d for d in call.wb.webhooks.deliveries(call.actor, limit=1, before=delivery_id + 1)
                 if d["id"] == delivery_id]
        if not found:
            raise Problem(404, "not-found", "Not found", f"There is no delivery {delivery_id} in this workspace.")
        return {**found[0], "attempt_log": attempts, "payload": call.wb.webhooks.payload(call.actor, delivery_id)}

    @api.route("POST", "/webhooks/deliveries/{delivery_id:int}/replay", summary="Replay a delivery",
               tag="webhooks", permission="channels", response=Replayed, status=202, errors=(401, 403, 404, 422))
    def replay(call: Call):
        """Sends the same event again (same webhook-id and body, so receivers that dedupe see it once)."""
        return {"delivery_id": call.wb.webhooks.replay(call.actor, call.path["delivery_id"])}
