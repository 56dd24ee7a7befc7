/**
 * One valid and one invalid call for every tool. The end-to-end suite calls every tool the server
 * lists and fails when a tool has no entry here, so each new tool must bring its fixtures.
 */
export interface ToolFixture {
  valid: Record<string, unknown>;
  invalid: Record<string, unknown>;
  /** Part of the message the invalid call must return. */
  invalidMessage: RegExp;
}

export const toolFixtures: Record<string, ToolFixture> = {
  request_tool: {
    valid: { category: 'agent' },
    invalid: { category: 'no-such-category' },
    invalidMessage: /Valid categories/,
  },
  healing_status: { valid: {}, invalid: { verbose: true }, invalidMessage: /verbose/ },
  audit_append: {
    valid: { entry_type: 'decision', title: 'e2e', content: 'Chose stdio for the e2e suite' },
    invalid: { entry_type: 'decision' },
    invalidMessage: /content/,
  },
  audit_status: { valid: { query: 'stdio', limit: 5 }, invalid: { limit: 0 }, invalidMessage: /limit/ },
};
