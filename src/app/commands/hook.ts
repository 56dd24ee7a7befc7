/**
 * `hook <event>`: Claude Code's hook handler (hooks/client.ts does the work; see there). Wiring
 * only: the settings from the environment, the process's streams, and how the hook opens what it
 * needs when no server answers (app/hookWiring.ts, imported only then).
 */
import { setFlagsFromString } from 'node:v8';
import { hookSettings } from '../../config/hookProject.js';
import { runHookProcess } from '../../hooks/client.js';
import type { HookInput } from '../../hooks/events.js';

export async function hookCommand(event: string): Promise<void> {
  // This process lives for one event: the shell grammar's WebAssembly is run by V8's baseline
  // compiler only. With tiering on, V8 compiles it again in the background and the process waits
  // for that at exit (measured: 0.56 s instead of 0.12 s per hook).
  setFlagsFromString('--liftoff-only');
  const settings = hookSettings();
  await runHookProcess({
    event,
    settings,
    stdin: process.stdin,
    write: (text) => process.stdout.write(text),
    warn: (text) => process.stderr.write(text),
    // The shortest way reads files of the state folder: not when the stores are in a database.
    ...(settings.inDatabase
      ? {}
      : {
          quiet: async (name: string, input: HookInput, projectDir: string, stateDir: string) =>
            (await import('../../hooks/quiet.js')).quietWithoutServer(name, input, projectDir, stateDir),
        }),
    local: async (projectDir, note) =>
      (await import('../hookWiring.js')).localHook(settings.configEnv(), projectDir, note, settings.readOnly),
  });
}
