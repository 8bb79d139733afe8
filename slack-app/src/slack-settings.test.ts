import { describe, expect, it } from 'vitest';

import { resolveSlackSettings } from './slack-settings.js';

describe('resolveSlackSettings', () => {
  it('is off without a bot token', () => {
    expect(resolveSlackSettings(undefined, {})).toBeUndefined();
    expect(resolveSlackSettings({ approvalChannel: '#approvals' }, {})).toBeUndefined();
  });

  it('takes secrets from the environment, which overrides the file', () => {
    const settings = resolveSlackSettings(
      { approvalChannel: '#approvals', apiUrl: 'https://slack.example/api/', ownGrants: { U0RITA: ['ci-bot'] } },
      { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret', SLACK_API_URL: 'http://127.0.0.1:9/api/' },
    );
    expect(settings).toMatchObject({
      botToken: 'xoxb-1',
      signingSecret: 'secret',
      approvalChannel: '#approvals',
      apiUrl: 'http://127.0.0.1:9/api/',
      socketMode: undefined,
    });
    expect(settings?.grantsOf('slack:U0RITA')).toEqual(['ci-bot']);
    expect(settings?.grantsOf('web:U0RITA')).toBeUndefined();
  });

  it('names what is missing from a half-configured Slack', () => {
    expect(() => resolveSlackSettings({}, { SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(
      'slack: a bot token is set but SLACK_APPROVAL_CHANNEL (slack.approvalChannel), SLACK_SIGNING_SECRET (slack.signingSecret) is missing',
    );
    expect(() => resolveSlackSettings({ socketMode: true, approvalChannel: 'C1' }, { SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow('SLACK_APP_TOKEN');
  });

  it('needs no signing secret in Socket Mode', () => {
    const settings = resolveSlackSettings({ socketMode: true, approvalChannel: 'C1' }, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(settings?.socketMode).toEqual({ appToken: 'xapp-1' });
  });

  it('refuses unknown keys and malformed values, by path', () => {
    expect(() => resolveSlackSettings({ channel: '#x' }, {})).toThrow(/slack: \(section\): Unrecognized key/);
    expect(() => resolveSlackSettings({ ownGrants: { alice: ['g'] } }, {})).toThrow('slack: ownGrants.alice');
  });
});
