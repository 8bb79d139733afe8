-- An abandoned approval is still open (the gateway holding its call stopped; the agent was told to retry), and the
-- agent's identical retry reopens it instead of asking again: one request, one Slack message, one decision. So at
-- most one approval per binding is open, pending or abandoned, and identical calls, retries on several instances
-- included, race on this index as they raced on the pending one, the losers joining the winner.
--
-- Before this, a retry after a restart opened a second approval beside the abandoned one. Where a binding still has
-- several open, the one a call may wait on stays open (the pending one, else the newest); the others are cancelled
-- with a reason naming it. Their Slack messages say "already decided" when clicked.
UPDATE approvals AS superseded
SET status = 'cancelled', decided_by = 'system', decided_via = 'system', decided_at = now(),
    reason = 'superseded by approval ' || kept.id || ', open for the identical call; decide that one'
FROM (SELECT DISTINCT ON (binding_hash) binding_hash, id FROM approvals
      WHERE status IN ('pending', 'abandoned')
      ORDER BY binding_hash, status = 'pending' DESC, requested_at DESC, id) AS kept
WHERE superseded.binding_hash = kept.binding_hash
  AND superseded.status IN ('pending', 'abandoned')
  AND superseded.id <> kept.id;

DROP INDEX approvals_pending_binding;
CREATE UNIQUE INDEX approvals_open_binding ON approvals (binding_hash) WHERE status IN ('pending', 'abandoned');
