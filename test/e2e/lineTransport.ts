/**
 * A client-side stdio transport over a child process that keeps every raw stdout line, so tests
 * can check that stdout carries JSON-RPC and nothing else.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly stdoutLines: string[] = [];
  readonly badLines: string[] = [];
  private buffer = '';

  constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  start(): Promise<void> {
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        this.stdoutLines.push(line);
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          this.badLines.push(line);
          continue;
        }
        if ((message as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
          this.badLines.push(line);
          continue;
        }
        this.onmessage?.(message as JSONRPCMessage);
      }
    });
    this.child.on('exit', () => this.onclose?.());
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) =>
      this.child.stdin.write(JSON.stringify(message) + '\n', (e) => (e ? reject(e) : resolve())),
    );
  }

  close(): Promise<void> {
    this.child.stdin.end();
    return Promise.resolve();
  }
}
