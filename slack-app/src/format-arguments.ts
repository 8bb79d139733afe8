/**
 * A call's arguments as a readable code block for a Slack message. The arguments arrive already redacted (the
 * approval record holds them as the audit log does); this only keeps them short enough to read on a phone and
 * inside Slack's 3,000-character text limit, and says when something was cut.
 */
import { escape } from './mrkdwn.js';

/** A string value longer than this is cut. */
const MAX_VALUE_CHARS = 300;
/** Room for the whole block, below Slack's 3,000 per text object. */
const MAX_BLOCK_CHARS = 2400;

export interface FormattedArguments {
  /** mrkdwn: a code block, escaped. */
  text: string;
  /** True when a value or the whole rendering was shortened. */
  cut: boolean;
}

export function formatArguments(args: Record<string, unknown>): FormattedArguments {
  let cut = false;
  const shorten = (_key: string, value: unknown) => {
    if (typeof value === 'string' && value.length > MAX_VALUE_CHARS) {
      cut = true;
      return `${value.slice(0, MAX_VALUE_CHARS)}… (${value.length - MAX_VALUE_CHARS} more characters)`;
    }
    return value;
  };
  const json = Object.keys(args).length === 0 ? '(no arguments)' : JSON.stringify(args, shorten, 2);
  // Escaped first, so the limit holds for what Slack receives; a cut never splits an entity like &amp;.
  let body = escape(json);
  if (body.length > MAX_BLOCK_CHARS) {
    cut = true;
    const lastLine = body.lastIndexOf('\n', MAX_BLOCK_CHARS);
    const kept = lastLine > 0 ? body.slice(0, lastLine) : body.slice(0, MAX_BLOCK_CHARS).replace(/&[a-z]*$/, '');
    body = `${kept}\n… (${body.length - kept.length} more characters)`;
  }
  // A ``` inside a value would close the block early; a zero-width space keeps it literal.
  return { text: `\`\`\`${body.replace(/```/g, '`\u200b``')}\`\`\``, cut };
}
