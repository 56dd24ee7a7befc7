/** One loopback fake LLM server for a test file, reset before each test. */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';

export function useFakeLlm(): { readonly fake: FakeLlmServer } {
  let server: FakeLlmServer | undefined;
  beforeAll(async () => {
    server = await startFakeLlmServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => server?.reset());
  return {
    get fake() {
      if (!server) throw new Error('the fake LLM server starts in beforeAll');
      return server;
    },
  };
}
