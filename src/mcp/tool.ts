/**
 * What a tool is, independent of the SDK: schemas, annotations and a handler that returns a value
 * or an expected failure. The router turns these into SDK registrations.
 */
import type { z } from 'zod';
import type { AppError } from '../core/errors.js';
import type { ContextTracker } from './contextTracker.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What the user answered in a form the client showed them (MCP elicitation). */
export interface HumanAnswer {
  action: 'accept' | 'decline' | 'cancel';
  content?: Record<string, unknown> | undefined;
}

export interface ToolContext {
  /** Who is acting: the verified token subject in HTTP mode, else the MCP client's name/version. */
  actor: string;
  /** True when `actor` was verified (HTTP mode's token subject), not declared by the client. */
  actorVerified: boolean;
  /** The verified subject's roles (HTTP mode: its token's `roles` claim); empty otherwise. */
  roles: readonly string[];
  /** This connection's id (each MCP session has its own). */
  sessionId: string;
  /**
   * The actor to record for a tool's optional `actor` argument: with a verified subject the
   * argument only labels it ("alice (reviewer)"); otherwise it names the actor.
   */
  actorFor(label: string | undefined): string;
  /**
   * Asks the human at the client through a form (MCP elicitation); undefined when the client
   * cannot show one.
   */
  askHuman?: (message: string, schema: Record<string, unknown>) => Promise<HumanAnswer>;
  /** Aborted when the client cancels the request or the connection closes. */
  signal: AbortSignal;
  /** True when the context tracker asks for short results. */
  compact: boolean;
  /** This session's category loading and context figures. */
  session: SessionControl;
  /** Sends an MCP progress notification when the client asked for them (a no-op otherwise). */
  progress: (done: number, total: number, message?: string) => Promise<void>;
}

export interface CategoryInfo {
  name: string;
  description: string;
  loaded: boolean;
  tools: string[];
}

export interface LoadResult {
  category: string;
  changed: boolean;
  tools: Array<{ name: string; summary: string }>;
}

/** The per-session controls tools get through their context. */
export interface SessionControl {
  categories(): CategoryInfo[];
  /** @throws AppError UNKNOWN_CATEGORY */
  load(category: string): LoadResult;
  /** @throws AppError UNKNOWN_CATEGORY, or INVALID_INPUT for core */
  unload(category: string): LoadResult;
  /** Resolves true once the client fetched tools/list after `sinceVersion`, false after `timeoutMs`. */
  waitForToolsList(sinceVersion: number, timeoutMs: number): Promise<boolean>;
  readonly toolsListVersion: number;
  readonly tracker: ContextTracker;
}

export type ToolOutcome<O> = { ok: true; value: O; text?: string } | { ok: false; error: AppError };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyObjectSchema = z.ZodObject<any>;

export interface ToolDefinition<
  I extends AnyObjectSchema = AnyObjectSchema,
  O extends AnyObjectSchema = AnyObjectSchema,
> {
  name: string;
  title: string;
  /** Model-facing; under 1 KB. */
  description: string;
  /** A strict object schema (unknown fields rejected), every field described. */
  inputSchema: I;
  outputSchema: O;
  /**
   * What tools/list advertises instead of outputSchema, when set. Core tools are in every
   * request's context, so theirs name only the fields a caller branches on (as loose objects that
   * let the rest of structuredContent through); outputSchema still types the handler.
   */
  advertisedOutputSchema?: AnyObjectSchema;
  annotations: ToolAnnotations;
  handler(input: z.output<I>, ctx: ToolContext): Promise<ToolOutcome<z.output<O>>>;
}

export interface Category {
  name: string;
  /** One line: what loading this category gives the model. */
  description: string;
  tools: ToolDefinition[];
}

/** Identity function that keeps the handler typed against the schemas. */
export function defineTool<I extends AnyObjectSchema, O extends AnyObjectSchema>(
  tool: ToolDefinition<I, O>,
): ToolDefinition {
  return tool;
}

export function ok<O>(value: O, text?: string): ToolOutcome<O> {
  return text === undefined ? { ok: true, value } : { ok: true, value, text };
}

export function fail(error: AppError): ToolOutcome<never> {
  return { ok: false, error };
}
