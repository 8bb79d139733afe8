-- Audit appends on the hot path (issue 2): each index is an insert into a B-tree per appended row, about a tenth of
-- an append's cost in PGlite's WASM. Most rows have no approval (allowed, executed, denied) and many have no agent
-- (grants without one), so those two indexes now hold only the rows that have a value. A filter `= $1` still uses
-- them: equality implies the column is not null.
DROP INDEX audit_events_approval_seq;
CREATE INDEX audit_events_approval_seq ON audit_events (approval_id, seq) WHERE approval_id IS NOT NULL;
DROP INDEX audit_events_agent_seq;
CREATE INDEX audit_events_agent_seq ON audit_events (agent, seq) WHERE agent IS NOT NULL;
