// @ts-check
/**
 * The review desk's only script (served as /desk.js, same origin; the pages' policy forbids inline
 * script): it subscribes to /events and, on a change, fetches the page again and swaps in its live
 * regions ([data-live]). A region a person is typing in or has focused is left alone; rows that
 * arrived since the page was opened are marked (and stay marked through later updates) and
 * announced to screen readers. Type-checked as browser code (tsconfig.browser.json).
 */
'use strict';
(() => {
  const status = document.getElementById('live-status');
  if (!('EventSource' in window) || !document.querySelector('[data-live]')) return;
  let busy = false;
  let again = false;
  /** Keys of rows that came after the page was opened: marked again by every later refresh. */
  const arrived = new Set();
  /** @param {Element} region whether a person is typing in it (or has focused it) */
  const typing = (region) =>
    region.contains(document.activeElement) ||
    [...region.querySelectorAll('input, textarea')].some((e) =>
      e instanceof HTMLInputElement || e instanceof HTMLTextAreaElement
        ? e.type !== 'hidden' && e.value
        : false,
    );
  /** @param {Element} region its rows that have a key */
  const keyed = (region) => /** @type {HTMLElement[]} */ ([...region.querySelectorAll('[data-key]')]);
  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const res = await fetch(location.pathname + location.search, {
        cache: 'no-store',
        credentials: 'same-origin',
      });
      if (!res.ok) return;
      const fresh = new DOMParser().parseFromString(await res.text(), 'text/html');
      let changed = 0;
      for (const region of document.querySelectorAll('[data-live]')) {
        const next = fresh.getElementById(region.id);
        if (!next || next.innerHTML === region.innerHTML || typing(region)) continue;
        const before = new Set(keyed(region).map((e) => e.dataset.key));
        region.replaceChildren(...[...next.childNodes].map((n) => document.importNode(n, true)));
        changed++;
        for (const row of keyed(region)) {
          if (!before.has(row.dataset.key)) arrived.add(row.dataset.key);
          if (arrived.has(row.dataset.key)) row.classList.add('new');
        }
      }
      if (changed) {
        document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || 0) + 1);
        if (status)
          status.textContent = arrived.size
            ? arrived.size + ' new since you opened the page'
            : 'Updated just now';
      }
    } catch {
      // The dashboard stopped: EventSource reconnects when it is back.
    } finally {
      busy = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }
  const events = new EventSource('/events');
  events.addEventListener('change', () => void refresh());
  // Whenever the stream (re)opens, look once: a change made after this page was rendered and before
  // the stream began watching (or while it was down) is not announced by it.
  events.addEventListener('open', () => void refresh());
})();
