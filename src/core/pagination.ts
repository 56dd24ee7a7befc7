/**
 * Cursor pagination over an ordered list. The cursor is opaque to clients: base64url of the
 * position after the last item returned, so pages stay well-formed while new items arrive at the head.
 */
import { AppError } from './errors.js';

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass it back as `cursor`. */
  next_cursor?: string;
  total: number;
}

export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}

/** @throws AppError INVALID_INPUT for a cursor this server did not produce. */
export function decodeCursor(cursor: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown };
    if (typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) return parsed.o;
  } catch {
    // fall through
  }
  throw new AppError('INVALID_INPUT', `Invalid cursor "${cursor.slice(0, 40)}"`, {
    hint: 'Pass the next_cursor value of the previous page unchanged, or omit cursor to start over',
  });
}

/** One page of `items` (already filtered and ordered). */
export function paginate<T>(items: readonly T[], request: PageRequest): Page<T> {
  const start = request.cursor ? decodeCursor(request.cursor) : 0;
  const slice = items.slice(start, start + request.limit);
  const end = start + slice.length;
  return {
    items: slice,
    total: items.length,
    ...(end < items.length ? { next_cursor: encodeCursor(end) } : {}),
  };
}
