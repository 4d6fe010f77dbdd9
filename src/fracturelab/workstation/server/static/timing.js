// @ts-check
// Reading time: how long a reader spends on a case while the page is visible and in use.

import { api } from './http.js';

/**
 * Report reading time of a case: every `intervalMs` while the page is visible and the reader
 * was active (key, mouse or wheel) within the last `idleMs`; the rest is sent when the page
 * is hidden or left. `onTotal(seconds)` receives the server's running total.
 * @param {number} caseId
 * @param {{intervalMs?: number, idleMs?: number, onTotal?: (seconds: number) => void}} [options]
 * @returns {{flush: (keepalive?: boolean) => Promise<void>}}
 */
export function trackTime(caseId, { intervalMs = 15000, idleMs = 300000, onTotal } = {}) {
  let pending = 0;
  /** @type {number | null} */
  let since = document.visibilityState === 'visible' ? performance.now() : null;
  let lastActivity = performance.now();
  let sending = false;

  const collect = () => {
    const now = performance.now();
    if (since !== null) {
      // Idle time beyond the limit does not count.
      const activeUntil = Math.min(now, lastActivity + idleMs);
      if (activeUntil > since) pending += (activeUntil - since) / 1000;
      since = now;
    }
  };
  const flush = async (keepalive = false) => {
    collect();
    if (pending < 0.5 || sending) return;
    const seconds = Math.min(pending, 300);
    pending -= seconds;
    sending = true;
    try {
      const result = await api('POST', `/api/cases/${caseId}/time`, {
        body: { seconds: Math.round(seconds * 10) / 10 },
        quiet: true,
        keepalive,
      });
      if (onTotal && result) onTotal(result.time_spent_s);
    } catch (error) {
      pending = Math.min(pending + seconds, 3600); // try again with the next report
    } finally {
      sending = false;
    }
  };
  for (const type of ['keydown', 'pointerdown', 'pointermove', 'wheel']) {
    window.addEventListener(type, () => { lastActivity = performance.now(); }, { passive: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      collect();
      since = null;
      flush(true);
    } else {
      since = performance.now();
      lastActivity = since;
    }
  });
  window.addEventListener('pagehide', () => flush(true));
  setInterval(() => {
    if (document.visibilityState === 'visible') flush();
  }, intervalMs);
  return { flush };
}
