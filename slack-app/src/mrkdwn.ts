/**
 * Slack mrkdwn pieces. Everything an agent or an upstream controls (tool names, arguments, errors, reasons) goes
 * through `escape` first: unescaped, `<!channel>` in an argument would page a whole channel and `<https://x|ok>`
 * would dress up a link.
 */

export function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Inline code; backticks inside would end it early, so they become look-alikes. */
export function code(text: string): string {
  return `\`${escape(text).replace(/`/g, 'ˋ')}\``;
}

/** A date Slack shows in each reader's own time zone, with a plain fallback for notifications. */
export function slackDate(iso: string): string {
  const epoch = Math.floor(Date.parse(iso) / 1000);
  return `<!date^${epoch}^{date_short_pretty} at {time}|${iso}>`;
}

/** "45 s", "14 min", "2 h 5 min": short enough for a phone screen. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** Who decided, as people read it: a Slack mention, a console user, or Airlock itself. */
export function who(actor: string | null): string {
  if (!actor || actor === 'system') return 'Airlock';
  if (actor.startsWith('slack:')) return `<@${escape(actor.slice('slack:'.length))}>`;
  if (actor.startsWith('web:')) return `${escape(actor.slice('web:'.length))} (console)`;
  return escape(actor);
}

const VIA: Record<string, string> = { slack: 'in Slack', web: 'in the console', api: 'through the API', system: '' };

export function via(channel: string | null): string {
  return (channel && VIA[channel]) || '';
}
