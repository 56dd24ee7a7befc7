import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

/**
 * McpServer sends one `notifications/tools/list_changed` per enable/disable. Loading a category
 * flips several tools at once and must send exactly one, so changes inside `batch()` are folded.
 */
export class BatchingMcpServer extends McpServer {
  private depth = 0;
  private changed = false;

  override sendToolListChanged(): void {
    if (this.depth > 0) {
      this.changed = true;
      return;
    }
    super.sendToolListChanged();
  }

  /** Runs `fn`; sends at most one list_changed for everything it changed. Returns whether it sent one. */
  batch(fn: () => void): boolean {
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && this.changed) {
      this.changed = false;
      if (!this.isConnected()) return false;
      super.sendToolListChanged();
      return true;
    }
    return false;
  }
}
