/**
 * Live updates of the review desk without reloading: `/events` is a server-sent event stream that
 * says `change` when the failure memory, the approval inbox, the supervisor runs or the evaluation
 * runs changed (any process on this state folder); static/desk.js (served as `/desk.js`) fetches
 * the page again and swaps in its live regions (an evaluation's matrix fills in as cells finish).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeskServices } from './deps.js';

type LiveServices = Pick<DeskServices, 'immune' | 'inbox' | 'runs' | 'evals' | 'changes'>;

/** Open event streams at most (one poll of the stores a second serves them all). */
const MAX_STREAMS = 16;
const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
/** Sent once the stream watches the stores (any change after it is told). */
const READY = ': ready\n\n';

/** What changes when anything a desk page shows changes. */
async function fingerprint(services: LiveServices): Promise<string> {
  const [immune, inbox, runs, evals] = await Promise.all([
    services.immune.version(),
    services.inbox.list({ limit: 100 }),
    services.runs.list(),
    services.evals.version(),
  ]);
  return [
    immune,
    evals,
    inbox.items.map((i) => `${i.id}:${i.status}`).join(','),
    runs
      .slice(0, 20)
      .map(
        (r) =>
          `${r.id}:${r.status}:${r.history.length}:${Object.values(r.nodes)
            .map((n) => n.state)
            .join('')}`,
      )
      .join(','),
  ].join('|');
}

export class DeskEvents {
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private quietSince = Date.now();
  private polling = false;
  /** A change was heard while a poll ran: look again when it ends. */
  private again = false;
  private unhear: (() => void) | undefined;

  constructor(private readonly services: LiveServices) {}

  /** Serves one event stream until the page goes away; one poll a second serves every stream. */
  serve(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) {
      res
        .writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' })
        .end('too many live pages open\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 2000\n\n');
    this.streams.add(res);
    if (!this.timer) {
      this.last = undefined;
      void this.poll();
      this.timer = setInterval(() => void this.poll(), POLL_MS);
      // With a database, another server's change is told at once, not at the next poll.
      this.unhear = this.services.changes?.(() => void this.poll());
    } else if (this.last !== undefined) res.write(READY);
    req.once('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.unhear?.();
        this.unhear = undefined;
      }
    });
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    this.again = false;
    try {
      const now = await fingerprint(this.services);
      let message: string | undefined;
      if (this.last !== undefined && now !== this.last) {
        message = `event: change\ndata: ${JSON.stringify({ at: new Date().toISOString() })}\n\n`;
        this.quietSince = Date.now();
      } else if (Date.now() - this.quietSince > HEARTBEAT_MS) {
        message = ': still here\n\n';
        this.quietSince = Date.now();
      }
      // The first look at the stores: from now on a change is told (a comment, for tests and tools).
      if (this.last === undefined) message = READY;
      this.last = now;
      if (message) for (const res of this.streams) res.write(message);
    } catch {
      // A store being rewritten by another process: the next poll reads it.
    } finally {
      this.polling = false;
      if (this.again && this.timer) void this.poll();
    }
  }
}
