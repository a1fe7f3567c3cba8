-- The spine: channels, jobs and their stages, artifacts, videos and the cost ledger.
CREATE SEQUENCE IF NOT EXISTS channel_ids START 1;
CREATE TABLE channels (
    id               INTEGER PRIMARY KEY DEFAULT nextval('channel_ids'),
    name             VARCHAR NOT NULL UNIQUE,
    niche            VARCHAR NOT NULL DEFAULT '',
    language         VARCHAR NOT NULL DEFAULT 'en',
    voice            VARCHAR NOT NULL DEFAULT 'piper',
    writer           VARCHAR NOT NULL DEFAULT 'local',
    primary_color    VARCHAR NOT NULL DEFAULT '#1E2A44',
    accent_color     VARCHAR NOT NULL DEFAULT '#F2B632',
    text_color       VARCHAR NOT NULL DEFAULT '#FFFFFF',
    default_format   VARCHAR NOT NULL DEFAULT 'landscape',
    default_duration INTEGER NOT NULL DEFAULT 60,
    made_for_kids    BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS job_ids START 1;
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY DEFAULT nextval('job_ids'),
    channel_id       INTEGER NOT NULL,
    topic            VARCHAR NOT NULL,
    duration_s       INTEGER NOT NULL,
    format           VARCHAR NOT NULL,
    brief            JSON NOT NULL,          -- outline, related titles and tags, chains, cap
    status           VARCHAR NOT NULL DEFAULT 'queued',
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    current_stage    VARCHAR,
    error_stage      VARCHAR,
    error_provider   VARCHAR,
    error_message    VARCHAR,
    created_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    started_at       TIMESTAMP,
    finished_at      TIMESTAMP
);

CREATE TABLE job_stages (
    job_id      INTEGER NOT NULL,
    stage       VARCHAR NOT NULL,
    position    INTEGER NOT NULL,
    status      VARCHAR NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    progress    DOUBLE NOT NULL DEFAULT 0,
    provider    VARCHAR,
    device      VARCHAR,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP,
    error       VARCHAR,
    PRIMARY KEY (job_id, stage)
);

-- Every transition, for the audit trail and the live queue.
CREATE SEQUENCE IF NOT EXISTS event_ids START 1;
CREATE TABLE job_events (
    id      BIGINT PRIMARY KEY DEFAULT nextval('event_ids'),
    job_id  INTEGER NOT NULL,
    stage   VARCHAR,
    status  VARCHAR NOT NULL,
    message VARCHAR,
    at_time TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE artifacts (
    job_id     INTEGER NOT NULL,
    stage      VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    path       VARCHAR NOT NULL,
    bytes      BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (job_id, kind)
);

CREATE TABLE videos (
    job_id         INTEGER PRIMARY KEY,
    channel_id     INTEGER NOT NULL,
    title          VARCHAR NOT NULL,
    description    VARCHAR NOT NULL,
    tags           VARCHAR[] NOT NULL,
    format         VARCHAR NOT NULL,
    width          INTEGER,
    height         INTEGER,
    duration_s     DOUBLE,
    video_path     VARCHAR,
    thumbnail_path VARCHAR,
    quality_score  DOUBLE,
    quality_detail JSON,
    publish_state  VARCHAR NOT NULL DEFAULT 'unpublished',
    publish_ref    VARCHAR,
    published_at   TIMESTAMP,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS ledger_ids START 1;
CREATE TABLE cost_ledger (
    id             BIGINT PRIMARY KEY DEFAULT nextval('ledger_ids'),
    job_id         INTEGER NOT NULL,
    stage          VARCHAR NOT NULL,
    provider       VARCHAR NOT NULL,
    model          VARCHAR NOT NULL,
    unit           VARCHAR NOT NULL,
    quantity       DOUBLE NOT NULL,
    unit_price_usd DOUBLE NOT NULL,
    usd            DECIMAL(12, 6) NOT NULL,
    compute_s      DOUBLE NOT NULL DEFAULT 0,
    price_version  VARCHAR NOT NULL,
    charged_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);
