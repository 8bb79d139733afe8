-- Airlock schema, version 1. Runs unchanged on PGlite (PostgreSQL 18 in WASM) and PostgreSQL 15+: keep to the
-- PostgreSQL 15 subset. The runner applies this file in one transaction and records its checksum, so never edit
-- it once released: add 0002_….sql instead.

-- Held calls. One row per approval; identical calls that arrive while it is pending join it (joined_count).
CREATE TABLE approvals (
  id               text PRIMARY KEY,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'abandoned')),
  -- sha256 of (server, tool, canonical arguments, grant, policy version): what a decision is bound to.
  binding_hash     text NOT NULL,
  server           text NOT NULL,
  tool             text NOT NULL,
  grant_name       text NOT NULL,
  agent            text,
  session_id       text,
  args_redacted    jsonb NOT NULL,
  args_hash        text NOT NULL,
  policy_version   text NOT NULL,
  rule             text NOT NULL,
  -- The rule's approval block as evaluated (approvers, quorum, timeout, on_timeout, channels).
  approval_spec    jsonb NOT NULL,
  requested_at     timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  decided_at       timestamptz,
  decided_by       text,
  decided_via      text,
  reason           text,
  joined_count     integer NOT NULL DEFAULT 1 CHECK (joined_count >= 1),
  -- Which gateway instance holds the waiting call (scaled mode); abandoned approvals name it in their reason.
  owner_instance   text,
  -- An approval is single use: the retry that runs it sets consumed_at in the same statement that checks it.
  consumed_at      timestamptz,
  execution_status text CHECK (execution_status IN ('running', 'succeeded', 'failed')),
  upstream_status  text,
  executed_at      timestamptz,
  execution_ms     integer,
  -- Where the request was posted, so every channel's message can be updated once it is decided.
  notifications    jsonb NOT NULL DEFAULT '[]'::jsonb,
  CHECK ((status = 'pending') = (decided_at IS NULL))
);

-- At most one pending approval per binding: concurrent identical calls race on this index and the loser joins.
CREATE UNIQUE INDEX approvals_pending_binding ON approvals (binding_hash) WHERE status = 'pending';
-- The retry of an approved call finds its approval by binding.
CREATE INDEX approvals_binding ON approvals (binding_hash, status);
-- Expiry sweeps and the console's pending list.
CREATE INDEX approvals_status_expires ON approvals (status, expires_at);
CREATE INDEX approvals_requested ON approvals (requested_at DESC);

-- One vote per approver per approval; a quorum of approvals decides.
CREATE TABLE approval_decisions (
  approval_id text NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
  approver    text NOT NULL,
  decision    text NOT NULL CHECK (decision IN ('approve', 'reject')),
  via         text NOT NULL,
  reason      text,
  decided_at  timestamptz NOT NULL,
  PRIMARY KEY (approval_id, approver)
);

-- The tamper-evident audit log. seq is assigned by the writer from audit_chain_head, not by an identity column:
-- sequences are not transactional, so a rolled-back append would leave a gap that reads as a deleted row.
-- canonical is the exact hashed text (text, not jsonb, which would reorder keys); the other columns copy fields
-- of it for the console's filters, and `airlock audit verify` checks that they still agree with it.
CREATE TABLE audit_events (
  seq         bigint PRIMARY KEY CHECK (seq >= 1),
  ts          timestamptz NOT NULL,
  kind        text NOT NULL,
  server      text,
  tool        text,
  grant_name  text,
  agent       text,
  approval_id text,
  canonical   text NOT NULL,
  prev_hash   text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

-- Console filters page by seq (keyset, newest first), so each filter column leads an index ending in seq.
-- ts never decreases along seq (the writer keeps it so), which turns a time range into a seq range found
-- with two lookups in this index.
CREATE INDEX audit_events_ts_seq ON audit_events (ts, seq);
CREATE INDEX audit_events_kind_seq ON audit_events (kind, seq);
CREATE INDEX audit_events_server_seq ON audit_events (server, seq);
CREATE INDEX audit_events_tool_seq ON audit_events (tool, seq);
CREATE INDEX audit_events_agent_seq ON audit_events (agent, seq);
CREATE INDEX audit_events_grant_seq ON audit_events (grant_name, seq);
CREATE INDEX audit_events_approval_seq ON audit_events (approval_id, seq);

-- The last appended row. Appenders lock it (SELECT … FOR UPDATE), which serializes appends across gateway
-- processes so the chain never forks; verify compares it with the last row, which catches a deleted tail.
CREATE TABLE audit_chain_head (
  id   smallint PRIMARY KEY CHECK (id = 1),
  seq  bigint NOT NULL,
  hash text NOT NULL,
  ts   timestamptz
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));

-- Append-only: rows can be inserted, never changed. Whoever can disable this trigger can edit rows, and the
-- hash chain is what then gives them away.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- API keys of agents; only a hash of each key is stored.
CREATE TABLE grants (
  name        text PRIMARY KEY,
  key_hash    text NOT NULL UNIQUE,
  key_prefix  text,
  description text,
  created_at  timestamptz NOT NULL,
  revoked_at  timestamptz
);

CREATE TABLE console_users (
  id            text PRIMARY KEY,
  username      text NOT NULL UNIQUE,
  display_name  text,
  password_hash text,
  slack_user_id text UNIQUE,
  created_at    timestamptz NOT NULL,
  disabled_at   timestamptz
);

-- Browser sessions of the console; the cookie carries the token, the table only its hash.
CREATE TABLE console_sessions (
  token_hash   text PRIMARY KEY,
  user_id      text NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  last_seen_at timestamptz
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Jobs written in the same transaction as the change that needs them (Slack delivery, approval expiry), then
-- handed to the job queue; rows not done are re-armed on start-up. job_key makes enqueueing idempotent.
CREATE TABLE outbox (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind       text NOT NULL,
  job_key    text UNIQUE,
  payload    jsonb NOT NULL,
  run_at     timestamptz NOT NULL,
  attempts   integer NOT NULL DEFAULT 0,
  last_error text,
  done       boolean NOT NULL DEFAULT false,
  done_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due ON outbox (run_at) WHERE NOT done;
