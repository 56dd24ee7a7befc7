/**
 * Task artifacts: large work stored as files under `<state>/artifacts/<task id>/`, referenced by
 * path so it does not travel through the client's context. Names are checked so no argument can
 * write outside that folder.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import { writeTextAtomic } from '../storage/atomicFile.js';
import type { Artifact } from './model.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_ARTIFACT_BYTES = 5 * 1024 * 1024;

/** @throws AppError INVALID_INPUT for names that could escape the folder or confuse tools. */
function checkArtifactName(name: string): void {
  if (!NAME.test(name) || name.includes('..')) {
    throw new AppError('INVALID_INPUT', `Invalid artifact name "${name.slice(0, 120)}"`, {
      hint: 'Use 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit (no slashes, no "..")',
    });
  }
}

/** Bytes under `dir` (files only; links are not followed). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else if (e.isFile()) total += (await fs.stat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/**
 * Saves an artifact.
 * @param quotaBytes total bytes all artifacts may take (TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB).
 * @throws AppError INVALID_INPUT for bad names or an artifact over 5 MB; LIMIT_REACHED past the quota.
 */
export async function writeArtifact(
  stateDir: string,
  taskId: string,
  name: string,
  content: string,
  quotaBytes = Number.POSITIVE_INFINITY,
): Promise<Artifact> {
  checkArtifactName(name);
  const bytes = Buffer.byteLength(content);
  if (bytes > MAX_ARTIFACT_BYTES) {
    throw new AppError(
      'INVALID_INPUT',
      `Artifact "${name}" is ${bytes} bytes; the limit is ${MAX_ARTIFACT_BYTES}`,
    );
  }
  const relative = path.join('artifacts', taskId, name);
  const absolute = path.join(stateDir, relative);
  if (Number.isFinite(quotaBytes)) {
    const replaced = (await fs.stat(absolute).catch(() => undefined))?.size ?? 0;
    const used = await folderBytes(path.join(stateDir, 'artifacts'));
    if (used - replaced + bytes > quotaBytes)
      throw new AppError(
        'LIMIT_REACHED',
        `Artifacts would take ${used - replaced + bytes} bytes; the quota is ${quotaBytes} (TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB)`,
        {
          hint: 'Remove old artifacts under <state>/artifacts/, or raise TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB',
        },
      );
  }
  // Belt and braces: the resolved path must stay inside the artifacts folder.
  if (!absolute.startsWith(path.join(stateDir, 'artifacts') + path.sep)) {
    throw new AppError('INVALID_INPUT', `Artifact path escapes the state folder`);
  }
  await fs.mkdir(path.dirname(absolute), { recursive: true });
  await writeTextAtomic(absolute, content);
  return { name, path: relative, bytes };
}

/** Writes a report (e.g. a handover) under `<state>/reports/`; returns its path relative to the state folder. */
export async function writeReport(stateDir: string, name: string, content: string): Promise<string> {
  checkArtifactName(name);
  const relative = path.join('reports', name);
  await fs.mkdir(path.join(stateDir, 'reports'), { recursive: true });
  await writeTextAtomic(path.join(stateDir, relative), content);
  return relative;
}
