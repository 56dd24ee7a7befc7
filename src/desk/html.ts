/** HTML text for the desk's pages: every stored text goes through escapeHtml. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
