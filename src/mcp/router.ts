/**
 * The tool router: every category's tools are registered with the SDK at start, and only the
 * loaded categories are enabled. `core` is always loaded. Loading or unloading a category sends one
 * list_changed notification; `waitForToolsList` lets request_tool hold its result until the client
 * has re-fetched the list.
 */
import { redactValue } from '../safety/redact.js';
import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { AppError, describeError, isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BatchingMcpServer } from './batchingServer.js';
import type { ContextTracker } from './contextTracker.js';
import type { TransportObserver } from './observedTransport.js';
import type {
  Category,
  CategoryInfo,
  LoadResult,
  SessionControl,
  ToolContext,
  ToolDefinition,
  ToolOutcome,
} from './tool.js';

export const CORE_CATEGORY = 'core';

/** What the SDK passes a tool callback besides its arguments. */
type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface RouterOptions {
  logger: Logger;
  tracker: ContextTracker;
  /** Categories enabled at start besides core: `'all'` or names. Default none. */
  initial?: 'core' | 'all' | readonly string[];
  /** Largest result in estimated tokens. Default 20000. */
  maxResultTokens?: number;
  /** Name/version of the connected client, for the actor of mutations. */
  clientName: () => string;
  /** The verified actor of this session (HTTP mode's token subject), if any. */
  verifiedActor?: string | undefined;
  /** The verified subject's roles (HTTP mode). */
  verifiedRoles?: readonly string[];
  /** This connection's id. */
  sessionId: string;
  /** Asks the human through the client (elicitation), when the client supports it. */
  askHuman?: () => ToolContext['askHuman'];
  /** Applied to every result (structured and text) before it leaves: the secret redactor. */
  redact?: (text: string) => string;
}

function firstSentence(text: string): string {
  const m = /^(.*?[.!?])(\s|$)/s.exec(text.trim());
  return (m?.[1] ?? text).replace(/\s+/g, ' ').trim();
}

export class ToolRouter implements TransportObserver, SessionControl {
  readonly tracker: ContextTracker;
  private readonly categoryByName = new Map<string, Category>();
  private readonly categoryOfTool = new Map<string, string>();
  private readonly registered = new Map<string, RegisteredTool>();
  private readonly loaded = new Set<string>([CORE_CATEGORY]);
  private listVersion = 0;
  private waiters: Array<{ since: number; resolve: (ok: boolean) => void }> = [];
  private listChangedCount = 0;
  /** Calls that arrived while their tool's category was not loaded (answered or not yet). */
  private readonly unloadedOnArrival = new Set<string | number>();
  private readonly options: RouterOptions;

  /** @throws AppError CONFIG_INVALID when `initial` names an unknown category. */
  constructor(
    private readonly server: BatchingMcpServer,
    categories: readonly Category[],
    options: RouterOptions,
  ) {
    this.options = options;
    this.tracker = options.tracker;
    for (const category of categories) {
      if (category.tools.length === 0) continue; // no placeholder categories
      this.categoryByName.set(category.name, category);
      for (const tool of category.tools) {
        if (this.categoryOfTool.has(tool.name)) throw new Error(`tool ${tool.name} is in two categories`);
        this.categoryOfTool.set(tool.name, category.name);
      }
    }
    const initial = options.initial ?? 'core';
    if (initial === 'all') for (const name of this.categoryByName.keys()) this.loaded.add(name);
    else if (initial !== 'core') {
      const unknown = initial.filter((n) => !this.categoryByName.has(n));
      if (unknown.length > 0) {
        throw new AppError(
          'CONFIG_INVALID',
          `TASK_ORCHESTRATOR_TOOLS names unknown categories: ${unknown.join(', ')}`,
          {
            hint: `Valid categories: ${[...this.categoryByName.keys()].join(', ')} (or "all", "core")`,
          },
        );
      }
      for (const name of initial) this.loaded.add(name);
    }
    for (const category of this.categoryByName.values()) {
      for (const tool of category.tools) {
        const registered = this.register(tool);
        if (!this.loaded.has(category.name)) registered.disable();
        this.registered.set(tool.name, registered);
      }
    }
  }

  get toolsListVersion(): number {
    return this.listVersion;
  }

  /** How many list_changed notifications went out on this session. */
  get listChangedSent(): number {
    return this.listChangedCount;
  }

  loadedCategories(): string[] {
    return [...this.loaded];
  }

  categories(): CategoryInfo[] {
    return [...this.categoryByName.values()].map((c) => ({
      name: c.name,
      description: c.description,
      loaded: this.loaded.has(c.name),
      tools: c.tools.map((t) => t.name),
    }));
  }

  private category(name: string): Category {
    const category = this.categoryByName.get(name);
    if (!category) {
      throw new AppError('UNKNOWN_CATEGORY', `Unknown category "${name}"`, {
        hint: `Valid categories: ${[...this.categoryByName.keys()].join(', ')}`,
        details: { valid: [...this.categoryByName.keys()] },
      });
    }
    return category;
  }

  private readonly summaries = new Map<string, LoadResult['tools']>();

  /** Its tools with one-line summaries (made once per category). */
  private summary(category: Category): LoadResult['tools'] {
    let tools = this.summaries.get(category.name);
    if (!tools) {
      tools = category.tools.map((t) => ({ name: t.name, summary: firstSentence(t.description) }));
      this.summaries.set(category.name, tools);
    }
    return tools.map((t) => ({ ...t }));
  }

  load(name: string): LoadResult {
    const category = this.category(name);
    if (this.loaded.has(name)) return { category: name, changed: false, tools: this.summary(category) };
    this.loaded.add(name);
    this.server.batch(() => {
      for (const tool of category.tools) this.registered.get(tool.name)?.enable();
    });
    this.options.logger.info('category loaded', { category: name });
    return { category: name, changed: true, tools: this.summary(category) };
  }

  unload(name: string): LoadResult {
    const category = this.category(name);
    if (name === CORE_CATEGORY) {
      throw new AppError('INVALID_INPUT', 'The core category cannot be unloaded', {
        hint: 'Unload one of the other loaded categories instead',
      });
    }
    if (!this.loaded.has(name)) return { category: name, changed: false, tools: this.summary(category) };
    this.loaded.delete(name);
    this.server.batch(() => {
      for (const tool of category.tools) this.registered.get(tool.name)?.disable();
    });
    this.options.logger.info('category unloaded', { category: name });
    return { category: name, changed: true, tools: this.summary(category) };
  }

  waitForToolsList(sinceVersion: number, timeoutMs: number): Promise<boolean> {
    if (this.listVersion > sinceVersion) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = { since: sinceVersion, resolve: (v: boolean) => resolve(v) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      waiter.resolve = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.waiters.push(waiter);
    });
  }

  // TransportObserver
  onToolsListSent(tools: unknown[]): void {
    this.tracker.recordDefinitions(tools);
    this.listVersion++;
    const ready = this.waiters.filter((w) => this.listVersion > w.since);
    this.waiters = this.waiters.filter((w) => this.listVersion <= w.since);
    for (const w of ready) w.resolve(true);
  }

  onListChangedSent(): void {
    this.listChangedCount++;
  }

  onCallArrived(id: string | number, toolName: string): void {
    const categoryName = this.categoryOfTool.get(toolName);
    if (categoryName !== undefined && !this.loaded.has(categoryName)) this.unloadedOnArrival.add(id);
  }

  gateCall(id: string | number, toolName: string, refused: boolean): CallToolResult | undefined {
    const arrivedUnloaded = this.unloadedOnArrival.delete(id);
    if (!refused) return undefined;
    const categoryName = this.categoryOfTool.get(toolName);
    if (categoryName === undefined) {
      return errorResult(
        new AppError('NOT_FOUND', `Unknown tool "${toolName}"`, {
          hint: `tools/list shows the tools loaded now; request_tool loads more (categories: ${[
            ...this.categoryByName.keys(),
          ].join(', ')})`,
        }),
      );
    }
    if (!this.loaded.has(categoryName)) {
      return errorResult(
        new AppError(
          'NOT_FOUND',
          `Tool "${toolName}" is in the "${categoryName}" category, which is not loaded`,
          {
            hint: `Call request_tool with {"category": "${categoryName}"} first, then call ${toolName} again`,
          },
        ),
      );
    }
    if (arrivedUnloaded) {
      // Processed concurrently with the request_tool that loaded it (pipelined requests).
      return errorResult(
        new AppError('CONFLICT', `Tool "${toolName}" was not loaded yet when this call was processed`, {
          hint: `Its category "${categoryName}" is loaded now; call ${toolName} again`,
        }),
      );
    }
    return undefined;
  }

  /**
   * Turns an outcome into the result the client receives: structuredContent plus a compact JSON
   * (or tool-written) text mirror, within the result budget. Tokens are counted after the reply
   * (the tracker is lazy); the size check uses UTF-8 bytes, an upper bound on BPE tokens, and
   * tokenizes only results that might be over the limit.
   */
  private shapeResult(
    toolName: string,
    outcome: ToolOutcome<Record<string, unknown>>,
    compact: boolean,
    maxTokens: number,
    serialized?: string,
  ): CallToolResult {
    const tracker = this.tracker;
    const overLimit = (text: string): number | undefined => {
      if (Buffer.byteLength(text) <= maxTokens) return undefined;
      const tokens = tracker.estimate(text);
      return tokens > maxTokens ? tokens : undefined;
    };
    let result: CallToolResult;
    if (!outcome.ok) {
      result = errorResult(outcome.error);
    } else {
      const json = serialized ?? JSON.stringify(outcome.value);
      const jsonTokens = overLimit(json);
      if (jsonTokens !== undefined) {
        result = errorResult(
          new AppError(
            'RESULT_TOO_LARGE',
            `The result of ${toolName} is about ${jsonTokens} tokens, over the ${maxTokens}-token limit`,
            {
              hint: 'Ask for less: a smaller limit, a cursor, or narrower filters',
            },
          ),
        );
      } else {
        let text = outcome.text ?? json;
        const textTokens = outcome.text === undefined ? undefined : overLimit(text);
        if (textTokens !== undefined) {
          const keep = Math.floor((text.length * maxTokens) / textTokens);
          text = `${text.slice(0, keep)}\n[truncated: showing about ${maxTokens} of ${textTokens} tokens; structuredContent has the full result]`;
        }
        if (compact) {
          text += `\n[context budget nearly spent: ${tracker.snapshot().remaining_tokens} tokens left; request_tool {"category": "...", "unload": true} frees tool definitions]`;
        }
        result = { content: [{ type: 'text', text }], structuredContent: outcome.value };
      }
    }
    tracker.recordResult(toolName, result.content.map((c) => (c.type === 'text' ? c.text : '')).join(''));
    return result;
  }

  private register(tool: ToolDefinition): RegisteredTool {
    const { logger } = this.options;
    const maxTokens = this.options.maxResultTokens ?? 20_000;
    return this.server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: tool.advertisedOutputSchema ?? tool.outputSchema,
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: unknown, extra: RequestExtra): Promise<CallToolResult> => {
        const token = extra._meta?.progressToken;
        const verified = this.options.verifiedActor;
        const actor = verified ?? this.options.clientName();
        const askHuman = this.options.askHuman?.();
        const ctx: ToolContext = {
          actor,
          actorVerified: verified !== undefined,
          roles: this.options.verifiedRoles ?? [],
          sessionId: this.options.sessionId,
          actorFor: (label) =>
            label === undefined || label.trim() === ''
              ? actor
              : verified !== undefined
                ? `${verified} (${label})`
                : label,
          ...(askHuman ? { askHuman } : {}),
          signal: extra.signal,
          compact: this.tracker.compact,
          session: this,
          progress: async (done, total, message) => {
            if (token === undefined) return;
            await extra
              .sendNotification({
                method: 'notifications/progress',
                params: { progressToken: token, progress: done, total, ...(message ? { message } : {}) },
              })
              .catch(() => {});
          },
        };
        let outcome: ToolOutcome<Record<string, unknown>>;
        try {
          outcome = await tool.handler(args as never, ctx);
        } catch (error) {
          if (isAppError(error)) {
            outcome = { ok: false, error };
          } else {
            logger.error('tool failed unexpectedly', { tool: tool.name, error });
            outcome = {
              ok: false,
              error: new AppError('INTERNAL', `${tool.name} failed unexpectedly: ${describeError(error)}`, {
                hint: 'This is a bug in task-orchestrator; the server is still running. Retry, or report it with the stderr log',
              }),
            };
          }
        }
        const redact = this.options.redact;
        let json: string | undefined;
        if (outcome.ok) {
          json = JSON.stringify(outcome.value);
          if (redact) {
            const value = redactValue(outcome.value, json, redact);
            if (value !== outcome.value) json = JSON.stringify(value);
            outcome = {
              ...outcome,
              value,
              ...(outcome.text !== undefined ? { text: redact(outcome.text) } : {}),
            };
          }
        } else if (redact && !outcome.ok && redact(outcome.error.message) !== outcome.error.message)
          outcome = {
            ok: false,
            error: new AppError(outcome.error.code, redact(outcome.error.message), {
              ...(outcome.error.hint ? { hint: outcome.error.hint } : {}),
            }),
          };
        return this.shapeResult(tool.name, outcome, ctx.compact, maxTokens, json);
      },
    );
  }
}

/** Where a tool error's code, hint and details travel in structured form (beside the text). */
export const ERROR_META = 'task-orchestrator/error';

/**
 * A tool error as the client gets it: `[CODE] message — hint` for the model, and the same in
 * `_meta` for a program (structuredContent would be checked against the tool's output schema).
 */
function errorResult(error: AppError): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `[${error.code}] ${error.describe()}` }],
    _meta: {
      [ERROR_META]: {
        code: error.code,
        message: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
        ...(error.details ? { details: error.details } : {}),
      },
    },
  };
}
