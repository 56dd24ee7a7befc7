#!/usr/bin/env node
/**
 * The bin entry. `hook <event>` runs on every prompt and tool call of Claude Code, so it skips the
 * command-line parser and goes straight to its handler; everything else goes through commander.
 */
const [command, event] = process.argv.slice(2);
if (command === 'hook' && event && !event.startsWith('-')) {
  await (await import('./app/commands/hook.js')).hookCommand(event);
} else {
  await (await import('./app/commandLine.js')).runCommandLine();
}
