-- Issue 14: domain events and signed webhooks. An event is a row of event_outbox written in the same
-- transaction as the change it reports; the dispatcher fans each out into webhook_deliveries (one per
-- subscribed webhook) and sends those, at least once, recording every attempt.
CREATE SEQUENCE event_seq START 1;
CREATE TABLE event_outbox (
    seq           BIGINT PRIMARY KEY DEFAULT nextval('event_seq'),  -- emission order
    id            VARCHAR NOT NULL UNIQUE,   -- msg_<random>: the webhook-id header, the same on every retry and replay
    type          VARCHAR NOT NULL,          -- one of pipeline.events.EVENT_TYPES
    workspace_id  INTEGER,                   -- the job's or channel's workspace (NULL: the installation's own)
    webhook_id    INTEGER,                   -- set for webhook.test: that webhook only
    payload       VARCHAR NOT NULL,          -- the exact JSON body sent: {"type", "timestamp", "data"}
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    fanned_out_at TIMESTAMP                  -- NULL until its deliveries are written (a restart fans out the rest)
);
-- Values the emitting code needs but cannot be handed (jobs.py gets a cursor, not Settings): the Workbench
-- writes them at start. Today: public_url, the address links in payloads name.
CREATE TABLE event_config (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
-- Budget thresholds already reported: one event per (job, threshold) and per (workspace, provider, day, threshold).
CREATE TABLE budget_alerts (
    key     VARCHAR PRIMARY KEY,             -- 'video:<job>:80', 'daily:<workspace|all>:<provider>:<day>:100'
    at_time TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE webhook_ids START 1;
CREATE TABLE webhooks (
    id                   INTEGER PRIMARY KEY DEFAULT nextval('webhook_ids'),
    workspace_id         INTEGER,            -- NULL: the owner's, receiving every workspace's events
    url                  VARCHAR NOT NULL,
    events               VARCHAR NOT NULL DEFAULT '[]',  -- JSON list of event types ([]: every type)
    description          VARCHAR NOT NULL DEFAULT '',
    secret               VARCHAR NOT NULL,   -- the whsec_ signing secret, Fernet-encrypted (key in secrets/webhook.key)
    enabled              BOOLEAN NOT NULL DEFAULT true,
    disabled_reason      VARCHAR,            -- why it was turned off (automatically: the last error, when, how many)
    disabled_at          TIMESTAMP,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,  -- deliveries in a row that failed every attempt
    failing_since        TIMESTAMP,          -- first failed attempt since the last success
    last_success_at      TIMESTAMP,
    created_by           INTEGER,
    created_at           TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE webhook_delivery_ids START 1;
CREATE TABLE webhook_deliveries (
    id              BIGINT PRIMARY KEY DEFAULT nextval('webhook_delivery_ids'),
    webhook_id      INTEGER NOT NULL,
    event_id        VARCHAR NOT NULL,        -- event_outbox.id
    event_type      VARCHAR NOT NULL,
    workspace_id    INTEGER,
    status          VARCHAR NOT NULL DEFAULT 'pending',  -- pending, delivered, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,               -- due from then (NULL: now)
    claimed_until   TIMESTAMP,               -- a sender holds it until then; a crash leaves it due again
    last_status     INTEGER,                 -- the last HTTP status (NULL: no answer)
    last_error      VARCHAR,
    replay_of       BIGINT,                  -- the delivery an operator replayed
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    delivered_at    TIMESTAMP
);
CREATE SEQUENCE webhook_attempt_ids START 1;
CREATE TABLE webhook_attempts (
    id          BIGINT PRIMARY KEY DEFAULT nextval('webhook_attempt_ids'),
    delivery_id BIGINT NOT NULL,
    attempt     INTEGER NOT NULL,
    at_time     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    status_code INTEGER,
    duration_ms INTEGER,
    error       VARCHAR,                     -- at most 500 characters
    response    VARCHAR                      -- the first 200 characters of the receiver's answer
);
