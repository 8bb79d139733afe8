-- Review console (issue 6): roles, the one-time setup link of the first admin, and the history's approver filter.

-- viewer reads everything; approver also decides (where a policy names them); admin also manages the console.
ALTER TABLE console_users ADD COLUMN role text NOT NULL DEFAULT 'viewer'
  CHECK (role IN ('viewer', 'approver', 'admin'));

-- `airlock serve` prints a link holding one of these when no admin exists; only its hash is stored, and it works
-- once. In the database rather than in memory so that any instance behind a load balancer can redeem it.
CREATE TABLE console_setup_tokens (
  token_hash text PRIMARY KEY,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);

-- The history filters on who decided. `actor` lives only inside the hashed record, so the index is on that
-- expression (text → jsonb is immutable); like the other filter indexes it ends in seq for keyset paging.
CREATE INDEX audit_events_actor_seq ON audit_events (((canonical::jsonb) ->> 'actor'), seq)
  WHERE ((canonical::jsonb) ->> 'actor') IS NOT NULL;
