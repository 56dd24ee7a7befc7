/**
 * Processes a test starts (servers, dashboards, pty wrappers) are stopped when its file ends, even
 * when the test failed before its own cleanup: tracked here, killed by the setup file's afterAll.
 * Started in a process group of their own (detached), so a wrapper's children go with it.
 */
import type { ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

/** Remembers a child to stop at the end of the test file; returns it. */
export function track<T extends ChildProcess>(child: T): T {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Kills every tracked child still running (its whole group when it has one) and waits for them. */
export async function stopAll(): Promise<void> {
  const left = [...running];
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
            return resolve();
          const timer = setTimeout(resolve, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }),
    ),
  );
  running.clear();
}
