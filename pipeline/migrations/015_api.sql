-- Issue 14: the automation API. Personal API tokens act as their user (role and workspaces, read each request).
CREATE SEQUENCE api_token_ids START 1;
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY DEFAULT nextval('api_token_ids'),
    user_id       INTEGER NOT NULL,
    name          VARCHAR NOT NULL,          -- what the operator called it ("n8n", "cron on the NAS")
    prefix        VARCHAR NOT NULL UNIQUE,   -- "yte_" + 8 characters: shown in lists, used to find the row
    token_hash    VARCHAR NOT NULL,          -- sha256 of the whole token; the token itself is shown once, never stored
    workspace_id  INTEGER,                   -- the workspace it acts in (NULL: the owner's "All workspaces")
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    expires_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    last_client   VARCHAR,
    revoked_at    TIMESTAMP
);
-- A retried POST with the same Idempotency-Key gets the first answer back, never a second job.
CREATE TABLE api_idempotency (
    user_id      INTEGER NOT NULL,
    key          VARCHAR NOT NULL,
    method       VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    fingerprint  VARCHAR NOT NULL,           -- sha256 of method, path and body: the same key with another body is refused
    status       INTEGER,                    -- NULL while the first request is still running
    body         VARCHAR,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (user_id, key)
);
