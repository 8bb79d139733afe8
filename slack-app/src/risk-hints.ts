/**
 * Short warnings shown above the buttons, so a phone reader sees what kind of call this is before the arguments.
 * The server's own tool annotations are used when the gateway passes them; otherwise the tool name is read. Both
 * are hints, never a verdict: the policy already decided that a human must look.
 */

import type { ToolAnnotations } from '../../server/src/route/tool-annotations.js';

/** MCP tool annotations as the upstream declared them; only values it set explicitly count. */
export type { ToolAnnotations };

export interface RiskHint {
  text: string;
  /** High-risk hints put a confirmation dialog on the Approve button. */
  high: boolean;
}

const NAME_HINTS: Array<{ words: RegExp; hint: RiskHint }> = [
  { words: /^(delete|remove|destroy|drop|purge|terminate|wipe|truncate|kill|revoke|erase)$/, hint: { text: 'May delete or destroy something', high: true } },
  { words: /^(charge|pay|payment|payout|refund|transfer|withdraw|invoice|purchase|buy)$/, hint: { text: 'May move money', high: true } },
  { words: /^(deploy|release|publish|merge|rollback|restart|scale|shutdown)$/, hint: { text: 'May change a running system', high: false } },
  { words: /^(exec|execute|run|shell|command|eval|script)$/, hint: { text: 'May run code', high: true } },
  { words: /^(grant|permission|permissions|role|roles|invite|share|admin)$/, hint: { text: 'May change who has access', high: true } },
  { words: /^(send|email|mail|message|notify|post|sms)$/, hint: { text: 'May contact people', high: false } },
];

/** `create_charge`, `deleteRepo`, `github__merge-pr` → lower-case words. */
function words(tool: string): string[] {
  return tool
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function riskHints(tool: string, annotations?: ToolAnnotations): RiskHint[] {
  const hints: RiskHint[] = [];
  if (annotations?.readOnlyHint === true) hints.push({ text: 'Read-only, says the server', high: false });
  if (annotations?.destructiveHint === true && annotations.readOnlyHint !== true) {
    hints.push({ text: 'Destructive, says the server', high: true });
  }
  if (annotations?.openWorldHint === true) hints.push({ text: 'Reaches systems outside your organisation, says the server', high: false });
  const toolWords = words(tool);
  for (const { words: pattern, hint } of NAME_HINTS) {
    if (toolWords.some((word) => pattern.test(word)) && !hints.some((h) => h.text === hint.text)) hints.push(hint);
  }
  return hints;
}
