/**
 * The desk's security boundary: who may act. Reading is open to this machine (the server listens on
 * loopback and checks Host, so a page of another host name, as in DNS rebinding, is refused);
 * acting needs the desk session, which only a person's own terminal receives (a URL with a secret
 * token, traded for an HttpOnly SameSite=Strict cookie), plus, on every POST, the page's CSRF token
 * and an Origin that is this server. An agent that can fetch the pages gets neither the cookie nor
 * the token, and a desk an agent starts has no session at all (safety/personCheck.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../core/errors.js';

export interface DeskSecrets {
  /** Traded for the session cookie; undefined when no person is at a terminal (read-only desk). */
  session: string | undefined;
  csrf: string;
}
const COOKIE = 'to_desk';

function same(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

/** Whether the request carries the desk session (the cookie the terminal's URL set). */
export function hasSession(req: IncomingMessage, secrets: DeskSecrets): boolean {
  return secrets.session !== undefined && same(cookieOf(req), secrets.session);
}

/** `/?token=...` from the terminal: sets the session cookie and sends the person to the desk. */
export function tradeToken(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  secrets: DeskSecrets,
): boolean {
  const token = url.searchParams.get('token');
  if (token === null) return false;
  if (!same(token, secrets.session)) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('wrong desk token\n');
    return true;
  }
  res
    .writeHead(303, {
      'set-cookie': `${COOKIE}=${secrets.session}; HttpOnly; SameSite=Strict; Path=/`,
      location: '/patterns',
    })
    .end();
  return true;
}
/** A POSTed form (at most 16 KiB). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16_384) throw new AppError('INVALID_INPUT', 'form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Why a POST must be refused, or undefined: the desk session, an Origin that is this server (or
 * a same-origin fetch), and the page's CSRF token.
 */
export function refusal(
  req: IncomingMessage,
  form: URLSearchParams,
  secrets: DeskSecrets,
): string | undefined {
  if (!hasSession(req, secrets))
    return 'no desk session: open the URL printed in the terminal that started the dashboard';
  const origin = req.headers.origin;
  const host = req.headers.host ?? '';
  if (origin !== undefined ? origin !== `http://${host}` : req.headers['sec-fetch-site'] !== 'same-origin')
    return 'the request does not come from this page (Origin)';
  if (!same(form.get('csrf') ?? undefined, secrets.csrf)) return 'missing or wrong CSRF token';
  return undefined;
}

/** Host names this server answers to (loopback by its own names). */
export function allowedHost(req: IncomingMessage): boolean {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  return ['127.0.0.1', 'localhost', '[::1]'].includes(host);
}
