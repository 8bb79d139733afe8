-- Keys every gateway instance on this database shares, each created by whichever instance needs it first. The first:
-- `held-state`, which seals the requestState of calls held for 2026 clients, so that the instance a client's retry
-- reaches can read which instance holds the call (issue 2).
CREATE TABLE shared_keys (
  name text PRIMARY KEY,
  key bytea NOT NULL CHECK (length(key) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
