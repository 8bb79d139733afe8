/**
 * The `slack` section of the config file, with the environment overriding it (DESIGN.md §6): secrets usually
 * come from the environment, the rest from either. Slack is off when no bot token is given anywhere; a half
 * configured Slack is an error naming what is missing, not a silent no-op.
 */
import { z } from 'zod';

export const SlackSectionSchema = z.strictObject({
  /** `xoxb-…`; prefer SLACK_BOT_TOKEN. */
  botToken: z.string().min(1).optional(),
  /** Prefer SLACK_SIGNING_SECRET. */
  signingSecret: z.string().min(1).optional(),
  /** Channel id (`C…`) or `#name` for requests whose rule names no Slack channel. */
  approvalChannel: z.string().min(1).optional(),
  /** Web API base URL; default Slack's. */
  apiUrl: z.url().optional(),
  /** Dial out over Socket Mode (needs an app-level token) instead of serving /slack/events. */
  socketMode: z.boolean().optional(),
  /** `xapp-…` for Socket Mode; prefer SLACK_APP_TOKEN. */
  appToken: z.string().min(1).optional(),
  /**
   * Slack users who run agents themselves, with the grants their agents call through: the approval service
   * refuses their approval of those grants' calls. `{ "U0123ABC": ["alice-laptop"] }`.
   */
  ownGrants: z.record(z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id like U0123ABC'), z.array(z.string().min(1))).optional(),
});

export interface SlackSettings {
  botToken: string;
  signingSecret: string;
  approvalChannel: string;
  apiUrl: string | undefined;
  socketMode: { appToken: string } | undefined;
  /** For createSlackApp's `grantsOf`. */
  grantsOf: (actorId: string) => readonly string[] | undefined;
}

/** Undefined when Slack is not configured; throws when it is configured only in part. */
export function resolveSlackSettings(section: unknown, env: NodeJS.ProcessEnv = process.env): SlackSettings | undefined {
  const parsed = SlackSectionSchema.safeParse(section ?? {});
  if (!parsed.success) {
    throw new Error(`slack: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(section)'}: ${issue.message}`).join('; ')}`);
  }
  const file = parsed.data;
  const pick = (name: string, value: string | undefined) => env[name] || value;
  const botToken = pick('SLACK_BOT_TOKEN', file.botToken);
  if (!botToken) return undefined;
  const signingSecret = pick('SLACK_SIGNING_SECRET', file.signingSecret);
  const approvalChannel = pick('SLACK_APPROVAL_CHANNEL', file.approvalChannel);
  const appToken = pick('SLACK_APP_TOKEN', file.appToken);
  const missing = [
    !approvalChannel && 'SLACK_APPROVAL_CHANNEL (slack.approvalChannel)',
    !file.socketMode && !signingSecret && 'SLACK_SIGNING_SECRET (slack.signingSecret)',
    file.socketMode && !appToken && 'SLACK_APP_TOKEN (slack.appToken) for Socket Mode',
  ].filter(Boolean);
  if (missing.length > 0) throw new Error(`slack: a bot token is set but ${missing.join(', ')} is missing`);
  const ownGrants = file.ownGrants ?? {};
  return {
    botToken,
    signingSecret: signingSecret ?? '',
    approvalChannel: approvalChannel!,
    apiUrl: pick('SLACK_API_URL', file.apiUrl),
    socketMode: file.socketMode ? { appToken: appToken! } : undefined,
    grantsOf: (actorId) => (actorId.startsWith('slack:') ? ownGrants[actorId.slice('slack:'.length)] : undefined),
  };
}
