-- Consent requests in flight: a random state names each, with its PKCE code verifier (encrypted).
CREATE TABLE oauth_states (
    state      VARCHAR PRIMARY KEY,
    project_id VARCHAR NOT NULL,
    channel_id INTEGER NOT NULL,
    verifier   BLOB,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
