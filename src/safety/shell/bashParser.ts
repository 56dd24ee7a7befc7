/**
 * Bash's grammar, from tree-sitter-bash (the grammar Gemini CLI and the Bash language server read
 * shell commands with), run by web-tree-sitter: both ship WebAssembly, so nothing is built on the
 * user's machine and nothing is fetched. Loaded once per process, on first use; parsing is then
 * synchronous, so the classifier stays a plain function.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Node, Parser, Tree } from 'web-tree-sitter';

export type { Node as SyntaxNode, Tree as SyntaxTree };

export interface BashParser {
  /** Parses `text`; the caller must call `delete()` on the tree (it lives in WebAssembly memory). */
  parse(text: string): Tree;
}

let loading: Promise<BashParser> | undefined;
let loaded: BashParser | undefined;

/** The parser, loaded on the first call (about 20 ms) and shared by every later one. */
export function loadBashParser(): Promise<BashParser> {
  return (loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const { Parser, Language } = await import('web-tree-sitter');
    const engine = await readFile(require.resolve('web-tree-sitter/tree-sitter.wasm'));
    await Parser.init({ wasmBinary: engine });
    const grammar = await readFile(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
    const language = await Language.load(grammar);
    const parser: Parser = new Parser();
    parser.setLanguage(language);
    loaded = {
      parse(text) {
        const tree = parser.parse(text);
        if (!tree) throw new Error('the bash parser returned no tree');
        return tree;
      },
    };
    return loaded;
  })());
}

/** The parser if it has been loaded in this process (see loadBashParser), else undefined. */
export function loadedBashParser(): BashParser | undefined {
  return loaded;
}
