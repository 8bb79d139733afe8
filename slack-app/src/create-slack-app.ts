/**
 * The Slack side of Airlock on Bolt: posts approval requests, takes Approve/Reject clicks and the reason modal,
 * and keeps every message showing the approval's current state. It talks to the gateway through the
 * ApprovalDesk alone (DESIGN.md §1) and sends through the job queue alone (slack-delivery.ts).
 *
 * Over HTTP the gateway mounts `requestListener` on its own server for `POST /slack/events`; Bolt's signature
 * check stays on, requests are acknowledged before any work (`processBeforeResponse: false`), and a replay
 * guard runs in front. With `socketMode` the app dials out to Slack instead and serves no HTTP.
 */
import { App, ExpressReceiver, type Receiver, SocketModeReceiver, webApi } from '@slack/bolt';
import express, { type Express } from 'express';

import type { ApprovalDesk } from '../../server/src/approval/approval.js';
import type { JobQueue } from '../../server/src/jobs/job-queue.js';
import type { Logger } from '../../server/src/log/logger.js';
import { type Clock, systemClock } from '../../server/src/util/clock.js';
import { approvalMessage } from './approval-message.js';
import { boltLogger } from './bolt-logger.js';
import { registerInteractions } from './interactions.js';
import { replayGuard } from './replay-guard.js';
import type { ToolAnnotations } from './risk-hints.js';
import { SlackDelivery } from './slack-delivery.js';
import { BAD_TOKEN, slackErrorCode } from './slack-errors.js';

export const SLACK_EVENTS_PATH = '/slack/events';
export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

export interface SlackAppOptions {
  desk: ApprovalDesk;
  /** The approval service's own queue: the jobs its outbox hands over run on the handlers the app registers here. */
  queue: JobQueue;
  /** `xoxb-…` (SLACK_BOT_TOKEN). */
  botToken: string;
  /** The app's signing secret (SLACK_SIGNING_SECRET); unused in Socket Mode. */
  signingSecret: string;
  /** Channel id (`C…`) or `#name` for requests whose rule names no channel (SLACK_APPROVAL_CHANNEL). */
  approvalChannel: string;
  /** Web API base URL (SLACK_API_URL); default Slack's. */
  apiUrl?: string;
  /** The console's public base URL: messages link to `${consoleUrl}/approvals/<id>`. */
  consoleUrl: string;
  logger: Logger;
  /** Connect over Socket Mode with an app-level `xapp-…` token instead of serving `/slack/events`. */
  socketMode?: { appToken: string };
  /** For the time left shown in a request; default the system clock. */
  clock?: Clock;
  /**
   * The grants a person acts for (say, the API key of their own agent), so the approval service refuses their
   * approval of their own agent's calls. Slack cannot know this; the gateway's config does.
   */
  grantsOf?: (actorId: string) => readonly string[] | undefined;
  /** The upstream's annotations for a tool, when the gateway knows them, for the risk hints. */
  toolAnnotations?: (server: string, tool: string) => ToolAnnotations | undefined;
}

export interface SlackApp {
  /**
   * Serves `POST /slack/events` (Slack's interactivity Request URL): a Node request listener that is also Express
   * middleware, passing anything else on. Undefined in Socket Mode, where there is nothing to serve.
   */
  readonly requestListener: Express | undefined;
  /**
   * Checks the token, has the approval service write Slack's jobs with every change it makes from now on, and
   * posts the requests no message shows yet.
   */
  start(): Promise<void>;
  /** Stops adding Slack's jobs to changes (and the Socket Mode connection); the queue is the gateway's to close. */
  stop(): Promise<void>;
}

/** The WebClient wants a trailing slash; an env var is easily written without one. */
function normaliseApiUrl(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { desk, queue, botToken, approvalChannel, logger } = options;
  const clock = options.clock ?? systemClock;
  const log = boltLogger(logger);
  // The queue owns every retry: the client neither retries nor waits out a 429 itself (slack-errors.ts). The
  // timeout keeps a hung connection from holding a job, or a click's handler, forever.
  const clientOptions = (): webApi.WebClientOptions => ({
    slackApiUrl: normaliseApiUrl(options.apiUrl ?? DEFAULT_SLACK_API_URL),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logger: log,
  });
  const client = new webApi.WebClient(botToken, clientOptions());

  let requestListener: Express | undefined;
  let receiver: Receiver;
  if (options.socketMode) {
    receiver = new SocketModeReceiver({ appToken: options.socketMode.appToken, logger: log, installerOptions: { clientOptions: clientOptions() } });
  } else {
    requestListener = express();
    requestListener.disable('x-powered-by');
    // Registered before the receiver adds its route, so a replay is refused before Bolt reads it.
    requestListener.post(SLACK_EVENTS_PATH, replayGuard(logger));
    receiver = new ExpressReceiver({
      signingSecret: options.signingSecret,
      app: requestListener,
      endpoints: SLACK_EVENTS_PATH,
      processBeforeResponse: false,
      logger: log,
    });
  }

  const app = new App({
    receiver,
    // One workspace, one bot token. An authorize function instead of `token` keeps Bolt from calling auth.test
    // in its constructor, where a Slack outage would surface as an unhandled rejection; start() checks instead.
    authorize: async () => ({ botToken }),
    clientOptions: clientOptions(),
    logger: log,
    convoStore: false,
  });

  const delivery = new SlackDelivery({
    desk,
    queue,
    client,
    approvalChannel,
    render: (approval) =>
      approvalMessage(approval, {
        consoleUrl: options.consoleUrl,
        now: clock.now(),
        annotations: approval.toolAnnotations ?? options.toolAnnotations?.(approval.server, approval.tool),
      }),
  });
  registerInteractions(app, { desk, delivery, approvalChannel, logger, grantsOf: options.grantsOf });

  let removeJobs: (() => void) | undefined;

  return {
    requestListener,

    async start() {
      try {
        const identity = await client.auth.test();
        logger.info({ team: identity.team, bot: identity.user_id }, 'slack: connected');
      } catch (error) {
        const code = slackErrorCode(error);
        if (code !== undefined && BAD_TOKEN.has(code)) throw new Error(`Slack refused SLACK_BOT_TOKEN: ${code}`, { cause: error });
        // Slack being down must not keep the gateway from starting: delivery retries through the queue.
        logger.warn({ err: error }, 'slack: could not reach Slack at start; requests will be posted when it answers');
      }
      removeJobs ??= desk.addChangeJobs(delivery);
      const caughtUp = await delivery.catchUp();
      if (caughtUp.posted + caughtUp.redrawn > 0) logger.info(caughtUp, 'slack: catching up on open requests');
      if (options.socketMode) await app.start();
    },

    async stop() {
      removeJobs?.();
      removeJobs = undefined;
      if (options.socketMode) await app.stop();
    },
  };
}
