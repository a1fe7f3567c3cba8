-- Scenes: the narration split into stretches, each with its visual query and the visual chosen for it.
CREATE TABLE job_scenes (
    job_id      INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    start_s     DOUBLE NOT NULL,
    end_s       DOUBLE NOT NULL,
    block       VARCHAR NOT NULL,
    narration   VARCHAR NOT NULL,
    query       VARCHAR NOT NULL,
    provider    VARCHAR NOT NULL,    -- where the chosen visual came from (slides when nothing fitted)
    source_id   VARCHAR,             -- its id at the source: the repetition guard's key
    kind        VARCHAR NOT NULL,    -- video, image or slide
    path        VARCHAR NOT NULL,    -- the local file (media cache, library, slides) under the data dir
    source_url  VARCHAR,             -- the page a person opens (never a URL with a key)
    score       DOUBLE,
    licence     VARCHAR,
    author      VARCHAR,
    candidates  JSON,                -- the ranked alternatives, for the Library to swap to
    PRIMARY KEY (job_id, idx)
);

-- The operator's own media: folders added in Settings and the files indexed from them.
CREATE TABLE media_folders (
    path     VARCHAR PRIMARY KEY,
    added_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE SEQUENCE IF NOT EXISTS media_file_ids START 1;
CREATE TABLE media_files (
    id          INTEGER PRIMARY KEY DEFAULT nextval('media_file_ids'),
    folder      VARCHAR NOT NULL,
    path        VARCHAR NOT NULL UNIQUE,
    kind        VARCHAR NOT NULL,    -- video or image
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    duration_s  DOUBLE,
    orientation VARCHAR NOT NULL,    -- landscape, portrait or square
    bytes       BIGINT NOT NULL,
    mtime       DOUBLE NOT NULL,
    caption     VARCHAR NOT NULL DEFAULT '',
    embedding   FLOAT[384],
    indexed_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Each channel's visuals chain (empty: the default from Settings).
ALTER TABLE channels ADD COLUMN visuals VARCHAR NOT NULL DEFAULT '';
