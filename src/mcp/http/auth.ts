/**
 * Bearer-JWT authentication for HTTP mode: HS256 with JWT_SECRET_KEY, or asymmetric keys from a
 * JWKS URL. Issuer, audience, expiry and not-before are checked; `alg: none` and any algorithm
 * other than the configured ones are refused (jose enforces the allow-list). The token's subject
 * is who acts. Failures carry the reason for the WWW-Authenticate header, never the token.
 */
import { createRemoteJWKSet, errors, jwtVerify, SignJWT } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import { AppError } from '../../core/errors.js';

export interface AuthConfig {
  secret: string | undefined;
  jwksUrl: string | undefined;
  issuer: string;
  audience: string;
}

/** The role a token's subject needs to approve inbox items in HTTP mode (agents' tokens never carry it). */
export const APPROVER_ROLE = 'approver';

export type AuthOutcome =
  | {
      ok: true;
      subject: string;
      /** The token's `roles` claim (only known roles are kept). */
      roles: string[];
    }
  | { ok: false; reason: string };

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export class Authenticator {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];

  /** @throws AppError CONFIG_INVALID without a secret or JWKS URL. */
  constructor(private readonly config: AuthConfig) {
    if (config.secret) {
      this.key = new TextEncoder().encode(config.secret);
      this.algorithms = ['HS256'];
    } else if (config.jwksUrl) {
      this.key = createRemoteJWKSet(new URL(config.jwksUrl));
      this.algorithms = ASYMMETRIC;
    } else {
      throw new AppError('CONFIG_INVALID', 'HTTP mode needs JWT_SECRET_KEY or TASK_ORCHESTRATOR_JWKS_URL', {
        hint: 'Set JWT_SECRET_KEY to a random string of 32+ characters (then mint tokens with `task-orchestrator token --sub NAME`), or point TASK_ORCHESTRATOR_JWKS_URL at your identity provider',
      });
    }
  }

  /** Checks an Authorization header value. */
  async verify(header: string | undefined): Promise<AuthOutcome> {
    if (!header) return { ok: false, reason: 'missing bearer token' };
    const m = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)\s*$/i.exec(header);
    if (!m) return { ok: false, reason: 'malformed Authorization header; expected "Bearer <JWT>"' };
    try {
      const { payload } = await jwtVerify(m[1]!, this.key as Uint8Array, {
        algorithms: this.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['sub', 'exp'],
        clockTolerance: 5,
      });
      if (typeof payload.sub !== 'string' || !payload.sub.trim())
        return { ok: false, reason: 'token has no subject' };
      const roles = Array.isArray(payload.roles)
        ? payload.roles.filter((r): r is string => r === APPROVER_ROLE)
        : [];
      return { ok: true, subject: payload.sub, roles };
    } catch (error) {
      return { ok: false, reason: reasonOf(error) };
    }
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'token not yet valid';
    if (error.claim === 'aud') return 'wrong audience';
    if (error.claim === 'iss') return 'wrong issuer';
    return `invalid claim ${error.claim}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no matching key';
  if (error instanceof errors.JOSEError) return 'invalid token';
  return 'invalid token';
}

/** Mints an HS256 token for local use (`task-orchestrator token`). */
export async function mintToken(
  config: AuthConfig,
  subject: string,
  ttlSeconds: number,
  roles: readonly string[] = [],
): Promise<{ token: string; expires_at: string }> {
  if (!config.secret)
    throw new AppError('CONFIG_INVALID', 'Minting a token needs JWT_SECRET_KEY', {
      hint: 'Set JWT_SECRET_KEY (the same value the HTTP server uses)',
    });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT(roles.length ? { roles: [...roles] } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(config.secret));
  return { token, expires_at: new Date((now + ttlSeconds) * 1000).toISOString() };
}

/** "90s", "15m", "1h", "7d" -> seconds. */
export function parseTtl(text: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  const seconds = n * unit;
  return seconds > 0 && seconds <= 366 * 86_400 ? seconds : undefined;
}
