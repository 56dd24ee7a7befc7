/**
 * The destructive statements in a text of SQL, found by one pass over its tokens (comments, string
 * literals and odd whitespace skipped), so `DROP/**\/TABLE` and `DROP -- x\nTABLE` read as what
 * the database runs. Linear in the text: no pattern over it backtracks.
 */

/** Statement kinds the operation rules refer to (`"sql": "drop"` in data/operations.json). */
export const SQL_KINDS = [
  'drop',
  'truncate',
  'delete-no-where',
  'delete',
  'update-no-where',
  'alter-drop',
] as const;
export type SqlKind = (typeof SQL_KINDS)[number];

const isWordChar = (code: number) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;

/** Lower-case word tokens per statement (`;` ends one), comments and string literals left out. */
function statements(text: string): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      current.push(text.slice(i, j).toLowerCase());
      i = j;
    } else if (c === 45 /* - */ && text.charCodeAt(i + 1) === 45) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === 39 /* ' */) {
      // A literal; '' inside it is a quote.
      let j = i + 1;
      while (j < n) {
        if (text.charCodeAt(j) === 39) {
          if (text.charCodeAt(j + 1) === 39) j += 2;
          else break;
        } else j++;
      }
      current.push("'");
      i = j + 1;
    } else if (c === 34 /* " */ || c === 96 /* ` */) {
      // A quoted identifier: its name is a word.
      const end = text.indexOf(String.fromCharCode(c), i + 1);
      current.push(end < 0 ? text.slice(i + 1).toLowerCase() : text.slice(i + 1, end).toLowerCase());
      i = end < 0 ? n : end + 1;
    } else if (c === 59 /* ; */) {
      if (current.length) out.push(current);
      current = [];
      i++;
    } else i++;
  }
  if (current.length) out.push(current);
  return out;
}

/** Which destructive kinds of statement `text` holds (none for text that has no such words). */
export function scanSql(text: string): Set<SqlKind> {
  const found = new Set<SqlKind>();
  // Cheap exit for the common case: none of the verbs appears at all.
  if (!/drop|truncate|delete|update|alter/i.test(text)) return found;
  for (const words of statements(text)) {
    // Whether a word appears at or after a position: compared with its last position (linear).
    const lastWhere = words.lastIndexOf('where');
    const lastDrop = words.lastIndexOf('drop');
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      const next = words[k + 1];
      if (w === 'drop' && (next === 'database' || next === 'table' || next === 'schema')) found.add('drop');
      else if (w === 'truncate' && next !== undefined && next !== "'") found.add('truncate');
      else if (w === 'delete' && next === 'from') found.add(lastWhere > k ? 'delete' : 'delete-no-where');
      else if (w === 'update' && next !== undefined && words[k + 2] === 'set' && lastWhere < k)
        found.add('update-no-where');
      else if (w === 'alter' && next === 'table' && lastDrop > k) found.add('alter-drop');
    }
  }
  return found;
}
