/** `token`: mints a bearer token for HTTP mode. */
import { APPROVER_ROLE, mintToken, parseTtl } from '../../mcp/http/auth.js';
import { configOrExit, fatal } from '../process.js';

export async function tokenCommand(options: { sub: string; ttl: string; approver?: boolean }): Promise<void> {
  const config = configOrExit();
  const ttl = parseTtl(options.ttl);
  if (ttl === undefined) fatal(new Error('--ttl must be a duration like 90s, 15m, 1h or 7d (at most 366d)'));
  if (!/^[\w.@:-]{1,128}$/.test(options.sub))
    fatal(new Error('--sub must be 1-128 letters, digits or . _ @ : -'));
  try {
    const { token, expires_at } = await mintToken(
      {
        secret: config.http.jwtSecret,
        jwksUrl: config.http.jwksUrl,
        issuer: config.http.issuer,
        audience: config.http.audience,
      },
      options.sub,
      ttl,
      options.approver ? [APPROVER_ROLE] : [],
    );
    process.stdout.write(`${token}\n`);
    process.stderr.write(
      `token for "${options.sub}"${options.approver ? ' (may approve: give it to a person, never to an agent)' : ''}, expires ${expires_at}\n`,
    );
  } catch (error) {
    fatal(error);
  }
}
