/**
 * A transport wrapper that lets the router see the conversation without touching SDK internals:
 * - it notices when a `tools/list` response has gone out (request_tool waits for that re-fetch,
 *   because Claude Code only shows new tools in the model's next request after it re-fetched);
 * - it measures each tools/list response for the context tracker, after leaving out of its input
 *   schemas what the model does not need (leanSchema.ts);
 * - when the SDK refuses a call to a tool that is not loaded (it only says "disabled" or "not
 *   found"), the answer is replaced by one naming the category to load. The router notes each
 *   call's arrival, so it knows (from its own state, not the SDK's wording) whether the tool was
 *   loaded then; the answer is decided when it goes out, so pipelined requests stay in order.
 */
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import { leanTools } from './leanSchema.js';

export interface TransportObserver {
  /** Called after a tools/list response was handed to the transport, with its tools. */
  onToolsListSent(tools: unknown[]): void;
  onListChangedSent(): void;
  /** A tools/call request arrived (before the SDK handles it). */
  onCallArrived(id: string | number, toolName: string): void;
  /**
   * Every call's answer on its way out: for a refused one, a better answer if the tool is (or was,
   * on arrival) not loaded; otherwise undefined.
   */
  gateCall(id: string | number, toolName: string, refused: boolean): CallToolResult | undefined;
}

type RequestId = string | number;

function isRequest(
  m: JSONRPCMessage,
): m is JSONRPCMessage & { id: RequestId; method: string; params?: unknown } {
  return 'method' in m && 'id' in m;
}

export class ObservedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;
  private readonly listRequests = new Set<RequestId>();
  private readonly callRequests = new Map<RequestId, string>();

  constructor(
    private readonly inner: Transport,
    private readonly observer: TransportObserver,
  ) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (e) => this.onerror?.(e);
    inner.onmessage = (message, extra) => this.receive(message, extra);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (isRequest(message)) {
      if (message.method === 'tools/list') this.listRequests.add(message.id);
      if (message.method === 'tools/call') {
        const name = (message.params as { name?: unknown } | undefined)?.name;
        if (typeof name === 'string') {
          this.callRequests.set(message.id, name);
          this.observer.onCallArrived(message.id, name);
        }
      }
    }
    this.onmessage?.(message, extra);
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('id' in message && message.id !== undefined && ('result' in message || 'error' in message)) {
      const name = this.callRequests.get(message.id);
      if (name !== undefined) {
        this.callRequests.delete(message.id);
        const refused = 'error' in message || (message.result as { isError?: boolean }).isError === true;
        const better = this.observer.gateCall(message.id, name, refused);
        if (better) message = { jsonrpc: '2.0', id: message.id, result: better };
      }
      // The model reads input schemas: the bounds the server enforces anyway are left out.
      if (message.id !== undefined && this.listRequests.has(message.id) && 'result' in message) {
        const tools = (message.result as { tools?: unknown }).tools;
        if (Array.isArray(tools))
          message = { ...message, result: { ...message.result, tools: leanTools(tools) } };
      }
    }
    await this.inner.send(message, options);
    if ('id' in message && 'result' in message && this.listRequests.delete(message.id)) {
      const tools = (message.result as { tools?: unknown }).tools;
      this.observer.onToolsListSent(Array.isArray(tools) ? tools : []);
    } else if ('method' in message && message.method === 'notifications/tools/list_changed') {
      this.observer.onListChangedSent();
    }
  }
}
