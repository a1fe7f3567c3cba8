-- Operators and access: workspaces, accounts, sessions, invitations, sign-in throttling and the audit log.
-- Everything a customer owns belongs to a workspace; what was here before lands in workspace 1.
CREATE SEQUENCE workspace_ids START 1;
CREATE TABLE workspaces (
    id            INTEGER PRIMARY KEY DEFAULT nextval('workspace_ids'),
    name          VARCHAR NOT NULL UNIQUE,
    cap_usd       DOUBLE,             -- the per-video cap of this workspace (NULL: the installation's)
    daily_budgets JSON,               -- {"provider": "5 usd", ...} counted over this workspace's spend only
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
INSERT INTO workspaces (name) VALUES ('Main workspace');

ALTER TABLE channels ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1;
-- A job keeps its workspace even after its channel is deleted (its video stays in that workspace's library).
ALTER TABLE jobs ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1;
-- Videos and the per-job cost rollup carry it too, so a workspace's pages filter them directly (no join to jobs).
ALTER TABLE videos ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE job_costs ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE youtube_projects ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE media_folders ADD COLUMN workspace_id INTEGER NOT NULL DEFAULT 1;

-- The daily spend rollup per workspace (daily budgets may be per workspace).
CREATE TABLE cost_daily_ws (
    day          DATE NOT NULL,
    stage        VARCHAR NOT NULL,
    provider     VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    unit         VARCHAR NOT NULL,
    quantity     DOUBLE NOT NULL,
    usd          DECIMAL(18, 6) NOT NULL,
    compute_s    DOUBLE NOT NULL,
    calls        BIGINT NOT NULL,
    workspace_id INTEGER NOT NULL,
    PRIMARY KEY (day, stage, provider, model, unit, workspace_id)
);
INSERT INTO cost_daily_ws SELECT day, stage, provider, model, unit, quantity, usd, compute_s, calls, 1 FROM cost_daily;
DROP TABLE cost_daily;
ALTER TABLE cost_daily_ws RENAME TO cost_daily;

CREATE SEQUENCE user_ids START 1;
CREATE TABLE users (
    id             INTEGER PRIMARY KEY DEFAULT nextval('user_ids'),
    email          VARCHAR NOT NULL UNIQUE,   -- lower case
    name           VARCHAR NOT NULL,
    role           VARCHAR NOT NULL,          -- owner, operator, analyst
    password_hash  VARCHAR,                   -- Argon2id (NULL: signs in with single sign-on only)
    workspace_id   INTEGER,                   -- the workspace they land in
    disabled       BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    last_seen_at   TIMESTAMP,
    signed_out_at  TIMESTAMP                  -- "sign out everywhere": single sign-on logins from before are refused
);
CREATE TABLE memberships (
    user_id      INTEGER NOT NULL,
    workspace_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, workspace_id)
);
CREATE TABLE sessions (
    token_hash   VARCHAR PRIMARY KEY,         -- sha256 of the token in the cookie; the token itself is never stored
    user_id      INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    expires_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP,
    client       VARCHAR
);
CREATE TABLE invitations (
    token_hash   VARCHAR PRIMARY KEY,         -- sha256 of the link's token, shown once to the owner
    email        VARCHAR NOT NULL,
    name         VARCHAR NOT NULL DEFAULT '',
    role         VARCHAR NOT NULL,
    workspace_id INTEGER NOT NULL,
    created_by   INTEGER,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE SEQUENCE sign_in_failure_ids START 1;
CREATE TABLE sign_in_failures (
    id      BIGINT PRIMARY KEY DEFAULT nextval('sign_in_failure_ids'),
    email   VARCHAR NOT NULL,
    client  VARCHAR NOT NULL,
    at_time TIMESTAMP NOT NULL DEFAULT current_timestamp,
    cleared BOOLEAN NOT NULL DEFAULT false    -- a successful sign-in clears the account's count (the rows stay)
);
CREATE SEQUENCE audit_ids START 1;
CREATE TABLE audit_log (
    id           BIGINT PRIMARY KEY DEFAULT nextval('audit_ids'),
    at_time      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    user_id      INTEGER,
    email        VARCHAR,
    workspace_id INTEGER,
    action       VARCHAR NOT NULL,
    target       VARCHAR,
    detail       VARCHAR,
    client       VARCHAR
);
