-- Trend intelligence: trending videos, their daily snapshots, imports, topics and evaluations.
CREATE TABLE trend_videos (
    country       VARCHAR NOT NULL,
    video_id      VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    channel_title VARCHAR,
    category_id   INTEGER,
    category      VARCHAR,
    publish_time  TIMESTAMP,
    tags          VARCHAR[] NOT NULL DEFAULT [],
    PRIMARY KEY (country, video_id)
);

CREATE TABLE trend_snapshots (
    country     VARCHAR NOT NULL,
    video_id    VARCHAR NOT NULL,
    day         DATE NOT NULL,
    rank        INTEGER NOT NULL,      -- position in that day's trending list (1 = first)
    views       BIGINT NOT NULL,
    likes       BIGINT,
    dislikes    BIGINT,
    comments    BIGINT,
    import_id   INTEGER NOT NULL,
    PRIMARY KEY (country, video_id, day)
);

CREATE SEQUENCE IF NOT EXISTS trend_import_ids START 1;
CREATE TABLE trend_imports (
    id          INTEGER PRIMARY KEY DEFAULT nextval('trend_import_ids'),
    source      VARCHAR NOT NULL,      -- file name or "youtube:<region>"
    sha256      VARCHAR,
    country     VARCHAR NOT NULL,
    rows_read   INTEGER NOT NULL,
    inserted    INTEGER NOT NULL,
    duplicates  INTEGER NOT NULL,
    rejected    JSON NOT NULL,         -- {reason: count}
    missing_days JSON NOT NULL,        -- ["2018-01-10", ...]
    at_time     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE trend_topics (
    country     VARCHAR NOT NULL,
    topic_id    INTEGER NOT NULL,
    label       VARCHAR NOT NULL,
    terms       VARCHAR[] NOT NULL,
    size        INTEGER NOT NULL,
    centroid    FLOAT[],               -- unit-length embedding centroid (NULL for TF-IDF topics)
    method      VARCHAR NOT NULL,      -- "minilm" or "tfidf"
    computed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (country, topic_id)
);

CREATE TABLE trend_video_topics (
    country  VARCHAR NOT NULL,
    video_id VARCHAR NOT NULL,
    topic_id INTEGER NOT NULL,
    PRIMARY KEY (country, video_id)
);

CREATE TABLE trend_evaluations (
    country     VARCHAR NOT NULL,
    k           INTEGER NOT NULL,
    horizon     INTEGER NOT NULL,
    result      JSON NOT NULL,
    computed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (country, k, horizon)
);
