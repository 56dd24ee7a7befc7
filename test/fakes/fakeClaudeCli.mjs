#!/usr/bin/env node
// A stand-in for `claude -p --output-format json`: reads the prompt on stdin, records its
// arguments next to itself, and answers like Claude Code's print mode (or fails, or hangs).
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
let prompt = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (prompt += d));
process.stdin.on('end', () => {
  appendFileSync(
    path.join(here, 'calls.jsonl'),
    JSON.stringify({ args: process.argv.slice(2), prompt }) + '\n',
  );
  if (prompt.includes('HANG')) {
    setInterval(() => {}, 1000);
    return;
  }
  if (prompt.includes('NOT_LOGGED_IN')) {
    process.stdout.write(
      JSON.stringify({
        type: 'result',
        subtype: 'error',
        is_error: true,
        result: 'Invalid API key · Please run /login',
      }),
    );
    process.exit(1);
  }
  process.stdout.write(
    JSON.stringify({
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: `claude says: ${prompt.trim()}`,
      total_cost_usd: 0.0123,
      usage: { input_tokens: 40, cache_read_input_tokens: 2, output_tokens: 12 },
      modelUsage: { 'claude-sonnet-4-5': {} },
    }),
  );
});
