-- Publishing to YouTube: projects (OAuth clients), channel accounts (encrypted tokens), the quota
-- ledger, parking, crash-safe uploads, schedules and the analytics that come back.
CREATE TABLE youtube_projects (
    project_id    VARCHAR PRIMARY KEY,
    client_config BLOB NOT NULL,                -- the OAuth client secret JSON, encrypted
    verified      BOOLEAN NOT NULL DEFAULT true, -- false once YouTube locked an upload to private
    quota_model   VARCHAR NOT NULL DEFAULT '2026',
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE youtube_accounts (
    channel_id         INTEGER NOT NULL,
    project_id         VARCHAR NOT NULL,
    token              BLOB NOT NULL,            -- authorized-user token JSON, encrypted
    youtube_channel_id VARCHAR,
    youtube_title      VARCHAR,
    status             VARCHAR NOT NULL DEFAULT 'ok',  -- ok, expired, revoked, error
    status_message     VARCHAR,
    last_used          TIMESTAMP,
    updated_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (channel_id, project_id)
);

CREATE SEQUENCE IF NOT EXISTS quota_ids START 1;
CREATE TABLE quota_ledger (
    id          BIGINT PRIMARY KEY DEFAULT nextval('quota_ids'),
    project_id  VARCHAR NOT NULL,
    pacific_day DATE NOT NULL,
    bucket      VARCHAR NOT NULL,     -- default, uploads, search, analytics
    method      VARCHAR NOT NULL,
    units       INTEGER NOT NULL,
    channel_id  INTEGER,
    job_id      INTEGER,
    outcome     VARCHAR NOT NULL,     -- ok, or the error reason
    at_time     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE youtube_parking (
    kind   VARCHAR NOT NULL,          -- channel or project
    ref    VARCHAR NOT NULL,
    until  TIMESTAMP NOT NULL,        -- UTC
    reason VARCHAR NOT NULL,
    at_time TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (kind, ref)
);

CREATE TABLE uploads (
    job_id           INTEGER PRIMARY KEY,
    channel_id       INTEGER NOT NULL,
    project_id       VARCHAR NOT NULL,
    session_uri      VARCHAR,          -- stored before the first chunk: a restart resumes this upload
    status           VARCHAR NOT NULL, -- intent, uploading, uploaded, done, failed
    video_id         VARCHAR,
    bytes_total      BIGINT,
    privacy_requested VARCHAR,
    privacy_actual   VARCHAR,
    error            VARCHAR,
    started_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at      TIMESTAMP
);

CREATE TABLE schedules (
    channel_id INTEGER PRIMARY KEY,
    times      VARCHAR[] NOT NULL,    -- local times, "HH:MM"
    timezone   VARCHAR NOT NULL,
    country    VARCHAR,
    duration_s INTEGER NOT NULL DEFAULT 60,
    format     VARCHAR NOT NULL DEFAULT 'landscape',
    privacy    VARCHAR NOT NULL DEFAULT 'public',
    enabled    BOOLEAN NOT NULL DEFAULT true
);

CREATE TABLE schedule_slots (
    channel_id INTEGER NOT NULL,
    slot_at    TIMESTAMP NOT NULL,    -- UTC
    job_id     INTEGER,
    note       VARCHAR,
    PRIMARY KEY (channel_id, slot_at)
);

CREATE TABLE channel_stats (
    channel_id  INTEGER NOT NULL,
    day         DATE NOT NULL,
    subscribers BIGINT,
    views       BIGINT,
    videos      BIGINT,
    PRIMARY KEY (channel_id, day)
);

CREATE TABLE video_stats (
    youtube_video_id    VARCHAR NOT NULL,
    day                 DATE NOT NULL,
    views               BIGINT,
    minutes_watched     DOUBLE,
    avg_view_duration_s DOUBLE,
    subscribers_gained  BIGINT,
    likes               BIGINT,
    comments            BIGINT,
    revenue_usd         DOUBLE,
    synced_at           TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (youtube_video_id, day)
);

-- A job deferred by quota waits in the queue until then.
ALTER TABLE jobs ADD COLUMN not_before TIMESTAMP;
