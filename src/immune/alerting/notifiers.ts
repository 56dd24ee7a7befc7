/**
 * Where alerts go: stderr (console), a webhook (JSON POST, HMAC-SHA256 signature when a secret is
 * set, timeout, retries with backoff), and a Slack incoming webhook (Block Kit). Each returns a
 * Delivery record instead of throwing.
 */
import { createHmac } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { packageVersion } from '../../core/version.js';
import type { Alert, Delivery } from './types.js';

export interface Notifier {
  readonly channel: string;
  send(alert: Alert): Promise<Delivery>;
}

export interface HttpOptions {
  timeoutMs?: number;
  /** Retries after the first attempt, for network errors, 429 and 5xx. Default 3. */
  retries?: number;
  /** First retry delay; doubles each retry. Default 500 ms. */
  backoffMs?: number;
}

/** The signature header a receiver checks: `sha256=` + hex HMAC-SHA256 of the raw body. */
const SIGNATURE_HEADER = 'x-task-orchestrator-signature';

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export class ConsoleNotifier implements Notifier {
  readonly channel = 'console';
  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  send(alert: Alert): Promise<Delivery> {
    this.logger.warn(`alert: ${alert.title}`, {
      alert_id: alert.id,
      rule: alert.rule,
      severity: alert.severity,
      message: alert.message,
    });
    return Promise.resolve({ channel: this.channel, ok: true, attempts: 1, at: isoTime(this.clock) });
  }
}

async function postJson(
  channel: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  clock: Clock,
  options: HttpOptions,
): Promise<Delivery> {
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? 500;
  let last: { status?: number; error?: string } = {};
  let attempts = 0;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    attempts = attempt;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `task-orchestrator/${packageVersion()}`,
          ...headers,
        },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { channel, ok: true, attempts: attempt, status: res.status, at: isoTime(clock) };
      last = { status: res.status, error: `HTTP ${res.status}` };
      if (res.status !== 429 && res.status < 500) break; // the receiver refused it: retrying will not help
    } catch (error) {
      last = {
        error:
          error instanceof Error
            ? error.name === 'TimeoutError'
              ? 'timed out'
              : error.message
            : String(error),
      };
    }
    if (attempt <= retries) await new Promise((resolve) => setTimeout(resolve, backoff * 2 ** (attempt - 1)));
  }
  return {
    channel,
    ok: false,
    attempts,
    ...(last.status ? { status: last.status } : {}),
    error: last.error ?? 'failed',
    at: isoTime(clock),
  };
}

export class WebhookNotifier implements Notifier {
  readonly channel = 'webhook';
  constructor(
    private readonly url: string,
    private readonly secret: string | undefined,
    private readonly project: string,
    private readonly clock: Clock,
    private readonly options: HttpOptions = {},
  ) {}

  send(alert: Alert): Promise<Delivery> {
    const body = JSON.stringify({ source: 'task-orchestrator', project: this.project, alert });
    const headers: Record<string, string> = { 'x-task-orchestrator-event': 'alert' };
    if (this.secret) headers[SIGNATURE_HEADER] = sign(this.secret, body);
    return postJson(this.channel, this.url, body, headers, this.clock, this.options);
  }
}

const EMOJI = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' } as const;

/** The Slack message for an alert: a header, the message, its details as fields, and a context line. */
function slackMessage(alert: Alert, project: string): Record<string, unknown> {
  const fields = Object.entries(alert.details)
    .slice(0, 10)
    .map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${String(v)}` }));
  return {
    text: `${alert.severity.toUpperCase()}: ${alert.title} — ${alert.message}`,
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: `${alert.title} (${alert.severity})`.slice(0, 150) },
      },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `${EMOJI[alert.severity]} ${alert.message}`.slice(0, 3000) },
      },
      ...(fields.length ? [{ type: 'section', fields }] : []),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `task-orchestrator · ${project} · ${alert.rule} · ${alert.id} · ${alert.last_at}`,
          },
        ],
      },
    ],
  };
}

export class SlackNotifier implements Notifier {
  readonly channel = 'slack';
  constructor(
    private readonly url: string,
    private readonly project: string,
    private readonly clock: Clock,
    private readonly options: HttpOptions = {},
  ) {}

  send(alert: Alert): Promise<Delivery> {
    return postJson(
      this.channel,
      this.url,
      JSON.stringify(slackMessage(alert, this.project)),
      {},
      this.clock,
      this.options,
    );
  }
}
