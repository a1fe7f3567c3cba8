-- Every step down a provider chain, with its reason (budget, missing key, error).
CREATE SEQUENCE IF NOT EXISTS fallback_ids START 1;
CREATE TABLE fallbacks (
    id            BIGINT PRIMARY KEY DEFAULT nextval('fallback_ids'),
    job_id        INTEGER NOT NULL,
    stage         VARCHAR NOT NULL,
    from_provider VARCHAR NOT NULL,
    to_provider   VARCHAR,
    reason        VARCHAR NOT NULL,
    at_time       TIMESTAMP NOT NULL DEFAULT current_timestamp
);
