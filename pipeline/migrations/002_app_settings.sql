-- Operator overrides of settings made in the Settings page (budgets, threshold, worker size).
CREATE TABLE app_settings (
    key        VARCHAR PRIMARY KEY,
    value      JSON NOT NULL,
    updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
