/**
 * The user's current request, read from the tail of Claude Code's transcript (JSONL): the last
 * user message that is text the person typed, not a tool result. Reads at most the last 512 KB.
 */
import { promises as fs } from 'node:fs';

const TAIL_BYTES = 512 * 1024;

function textOf(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const texts = content.flatMap((c: unknown) => {
    const part = c as { type?: string; text?: string };
    return part?.type === 'text' && typeof part.text === 'string' ? [part.text] : [];
  });
  // A message of tool results only is not the person's request.
  return texts.length > 0 ? texts.join('\n') : undefined;
}

export async function lastUserRequest(transcriptPath: string | undefined): Promise<string | undefined> {
  // Claude Code's transcripts are JSONL files; nothing else is read, whatever the event says.
  if (!transcriptPath || !transcriptPath.endsWith('.jsonl')) return undefined;
  let handle;
  try {
    handle = await fs.open(transcriptPath, 'r');
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!.trim();
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { type?: string; message?: { role?: string; content?: unknown } };
        if (entry.type !== 'user' && entry.message?.role !== 'user') continue;
        const text = textOf(entry.message?.content);
        if (text && !text.startsWith('<')) return text.slice(0, 4000);
      } catch {
        // a partial first line or a foreign entry
      }
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}
