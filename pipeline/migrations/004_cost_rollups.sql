-- Rollups of the cost ledger kept in step with it (same transaction), so pages never
-- re-aggregate millions of ledger rows: cost per job, and spend per day and provider.
CREATE TABLE job_costs (
    job_id    INTEGER PRIMARY KEY,
    usd       DECIMAL(18, 6) NOT NULL,
    compute_s DOUBLE NOT NULL DEFAULT 0
);
INSERT INTO job_costs SELECT job_id, sum(usd), sum(compute_s) FROM cost_ledger GROUP BY job_id;

CREATE TABLE cost_daily (
    day       DATE NOT NULL,
    stage     VARCHAR NOT NULL,
    provider  VARCHAR NOT NULL,
    model     VARCHAR NOT NULL,
    unit      VARCHAR NOT NULL,
    quantity  DOUBLE NOT NULL,
    usd       DECIMAL(18, 6) NOT NULL,
    compute_s DOUBLE NOT NULL,
    calls     BIGINT NOT NULL,
    PRIMARY KEY (day, stage, provider, model, unit)
);
INSERT INTO cost_daily
SELECT charged_at::DATE, stage, provider, model, unit, sum(quantity), sum(usd), sum(compute_s), count(*)
FROM cost_ledger GROUP BY ALL;
