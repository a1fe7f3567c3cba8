-- Background music: each channel's folder of tracks (zero or one), the tracks indexed from it with their
-- measured loudness, and the track each video was mixed with (for the repetition guard and the credits).
CREATE TABLE music_folders (
    channel_id INTEGER PRIMARY KEY,
    path       VARCHAR NOT NULL,
    added_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS music_track_ids START 1;
CREATE TABLE music_tracks (
    id           INTEGER PRIMARY KEY DEFAULT nextval('music_track_ids'),
    channel_id   INTEGER NOT NULL,
    folder       VARCHAR NOT NULL,
    path         VARCHAR NOT NULL,
    title        VARCHAR NOT NULL,
    duration_s   DOUBLE NOT NULL,
    lufs         DOUBLE NOT NULL,    -- integrated loudness (EBU R128)
    true_peak_db DOUBLE NOT NULL,    -- dBTP
    bytes        BIGINT NOT NULL,
    mtime        DOUBLE NOT NULL,
    licence      VARCHAR NOT NULL DEFAULT '',  -- from the track's sidecar or the folder's LICENSE/README
    indexed_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    UNIQUE (channel_id, path)        -- two channels may share a folder
);

ALTER TABLE videos ADD COLUMN music_path VARCHAR;
ALTER TABLE videos ADD COLUMN music_licence VARCHAR;
