/**
 * The stdio transport: newline-delimited JSON-RPC on stdin/stdout like the SDK's, with two
 * differences that keep a session alive. A line over the size limit is not buffered: it is
 * skipped as it streams in and answered with a JSON-RPC error for its id (read from the line's
 * start), instead of the SDK's behaviour of closing the transport (which ended the server
 * silently). A line that is not JSON gets a parse error. A write error on stdout (the client is
 * gone: EPIPE) is reported through onerror, so the server shuts down instead of spinning.
 */
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../core/logger.js';

export interface StdioTransportOptions {
  /** Largest request line in bytes. Default 10 MiB (the SDK's limit). */
  maxLineBytes?: number;
  logger?: Logger;
}

const ID_PROBE_BYTES = 512;

export class LimitedStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Set while skipping an oversized line: its first bytes (to find its id) and its length so far. */
  private skipping: { head: Buffer; bytes: number } | undefined;
  private closed = false;
  private readonly maxLineBytes: number;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    private readonly options: StdioTransportOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? 10 * 1024 * 1024;
  }

  private readonly onData = (chunk: Buffer) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      if (this.skipping) this.skipping.bytes += piece.length;
      else if (this.size + piece.length > this.maxLineBytes) {
        const head = Buffer.concat([...this.chunks, piece]).subarray(0, ID_PROBE_BYTES);
        this.skipping = { head, bytes: this.size + piece.length };
        this.chunks = [];
        this.size = 0;
      } else if (piece.length > 0) {
        this.chunks.push(piece);
        this.size += piece.length;
      }
      if (nl < 0) return;
      this.endLine();
      start = nl + 1;
    }
  };

  private readonly onError = (error: Error) => this.onerror?.(error);
  private readonly onEnd = () => void this.close();

  private endLine(): void {
    if (this.skipping) {
      const { head, bytes } = this.skipping;
      this.skipping = undefined;
      const id = /"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,16})/.exec(head.toString('utf8'))?.[1];
      this.options.logger?.warn('stdio: request over the size limit skipped', {
        bytes,
        limit: this.maxLineBytes,
      });
      void this.send({
        jsonrpc: '2.0',
        id: id === undefined ? (null as unknown as number) : (JSON.parse(id) as string | number),
        error: {
          code: -32600,
          message: `Request of ${bytes} bytes is over the ${this.maxLineBytes}-byte limit; it was not read`,
        },
      }).catch(() => {});
      return;
    }
    const line = Buffer.concat(this.chunks).toString('utf8').replace(/\r$/, '');
    this.chunks = [];
    this.size = 0;
    if (line.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(line));
    } catch (error) {
      this.options.logger?.warn('stdio: unreadable message', { error: (error as Error).message });
      void this.send({
        jsonrpc: '2.0',
        id: null as unknown as number,
        error: { code: -32700, message: 'Parse error: each line must be one JSON-RPC message' },
      }).catch(() => {});
      return;
    }
    this.onmessage?.(message);
  }

  start(): Promise<void> {
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onError);
    this.stdin.on('end', this.onEnd);
    this.stdout.on('error', this.onError);
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      try {
        if (this.stdout.write(`${JSON.stringify(message)}\n`)) resolve();
        else this.stdout.once('drain', resolve);
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        this.onerror?.(e);
        reject(e);
      }
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onError);
    this.stdin.off('end', this.onEnd);
    this.stdout.off('error', this.onError);
    this.chunks = [];
    this.onclose?.();
    return Promise.resolve();
  }
}
