"""Publishing to many YouTube channels: accounts and tokens, the quota ledger, rotation by health,
crash-safe resumable uploads, schedules and analytics."""
