/** The Slack app's surface for the gateway: build it, mount `requestListener` at SLACK_EVENTS_PATH, start it. */
export { createSlackApp, DEFAULT_SLACK_API_URL, SLACK_EVENTS_PATH, type SlackApp, type SlackAppOptions } from './create-slack-app.js';
export type { ToolAnnotations } from './risk-hints.js';
export { resolveSlackSettings, SlackSectionSchema, type SlackSettings } from './slack-settings.js';
