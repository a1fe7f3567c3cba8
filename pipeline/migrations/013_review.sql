-- The operator in control. Review gates: a channel (or one video's brief) says whether its jobs stop for a
-- person after the script ('script') or before publishing ('publish'); 'auto' runs straight through.
ALTER TABLE channels ADD COLUMN review VARCHAR NOT NULL DEFAULT 'auto';
-- While a job waits (status 'review') this says for what: 'script' or 'publish'.
ALTER TABLE jobs ADD COLUMN awaiting VARCHAR;
-- When a person approved the script / the publishing (the gate then lets the job through).
ALTER TABLE jobs ADD COLUMN script_approved_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN publish_approved_at TIMESTAMP;
-- Finished jobs the operator cleared from the queue view (the jobs and their videos stay).
ALTER TABLE jobs ADD COLUMN cleared_at TIMESTAMP;

-- Every version of a job's script: the writer's first, a regenerated one, each operator edit.
CREATE TABLE script_versions (
    job_id     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    path       VARCHAR NOT NULL,
    author     VARCHAR NOT NULL,          -- 'writer' or 'operator'
    writer     VARCHAR,                   -- the provider that wrote it (writer versions)
    note       VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (job_id, version)
);

-- Runs: a job's first pass is run 1; each rerun after an edit (a script version, a swapped scene, a publish
-- from the Library) is the next, so the ledger can say what each rerun cost.
ALTER TABLE jobs ADD COLUMN run INTEGER NOT NULL DEFAULT 1;
ALTER TABLE cost_ledger ADD COLUMN run INTEGER NOT NULL DEFAULT 1;
CREATE TABLE job_runs (
    job_id     INTEGER NOT NULL,
    run        INTEGER NOT NULL,
    from_stage VARCHAR,
    reason     VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (job_id, run)
);
