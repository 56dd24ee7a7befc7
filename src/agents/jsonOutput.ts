/** Finds the JSON an agent answered with: the whole answer, or its first ```json fenced block. */
export type JsonExtraction = { ok: true; value: unknown } | { ok: false; reason: string };

export function extractJson(text: string): JsonExtraction {
  const trimmed = text.trim();
  const candidates = [trimmed];
  const fenced = /```(?:json)?\s*\n([\s\S]*?)\n?```/i.exec(trimmed);
  if (fenced?.[1]) candidates.push(fenced[1].trim());
  for (const c of candidates) {
    try {
      return { ok: true, value: JSON.parse(c) as unknown };
    } catch {
      // try the next candidate
    }
  }
  return {
    ok: false,
    reason: trimmed === '' ? 'the answer is empty' : 'the answer is not JSON and has no ```json block',
  };
}
