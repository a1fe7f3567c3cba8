-- A job's identity that survives backup and restore (ids can repeat across installations), and the
-- idempotency key of the request that made it (a double-clicked form makes one job).
ALTER TABLE jobs ADD COLUMN uid VARCHAR;
UPDATE jobs SET uid = replace(gen_random_uuid()::VARCHAR, '-', '') WHERE uid IS NULL;
ALTER TABLE jobs ADD COLUMN request_key VARCHAR;

-- Uploads are a journal of what YouTube has: keyed by the job's uid as well, so a restored job
-- finds the video it already made, and a foreign job with the same id does not.
ALTER TABLE uploads ADD COLUMN job_uid VARCHAR;
UPDATE uploads SET job_uid = (SELECT j.uid FROM jobs j WHERE j.id = uploads.job_id);
ALTER TABLE uploads ADD COLUMN bytes_sent BIGINT NOT NULL DEFAULT 0;

-- Budget holds: the estimate of each paid call in flight, reserved under the write lock before the
-- call and settled with the billed usage after it, so concurrent workers cannot pass a budget together.
CREATE TABLE budget_holds (
    hold       VARCHAR NOT NULL,
    job_id     INTEGER NOT NULL,
    stage      VARCHAR NOT NULL,
    provider   VARCHAR NOT NULL,
    model      VARCHAR NOT NULL,
    unit       VARCHAR NOT NULL,
    quantity   DOUBLE NOT NULL,
    usd        DECIMAL(12, 6) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
