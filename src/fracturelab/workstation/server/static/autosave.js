// @ts-check
// Saving answers as they are given: the save queue, the status line it drives, and the
// warning before leaving a page with unsaved answers.

import { api, ApiError, isRedirecting } from './http.js';

/**
 * Update the save status line `#status`.
 * @param {'saved' | 'saving' | 'error' | 'idle'} state
 * @param {string} [reason] Why a save failed ('error'), or the text shown when 'idle'.
 */
export function setStatus(state, reason = '') {
  const el = document.getElementById('status');
  if (!el) return;
  el.dataset.state = state;
  const text = {
    saved: 'Saved ✓',
    saving: 'Saving…',
    error: `Not saved: ${reason}`,
    idle: reason || 'No changes yet',
  }[state];
  el.textContent = text;
  el.title = text;
}

/**
 * What a reader page tells its {@link SaveQueue} and hears back from it.
 * @typedef {object} SaveHooks
 * @property {() => number | null} getVersion The reading's version the page knows.
 * @property {(version: number) => void} setVersion
 * @property {(key: string, value: any) => void} onSaved The server's stored value.
 * @property {(key: string, value: any, detail: string) => void} onFailed
 * @property {() => Promise<void>} onConflict Another client changed the reading meanwhile.
 * @property {(count: number) => Promise<void>} [onDone] `count` saves were refused (409):
 *   the case is marked done.
 * @property {() => void} [onIdle] Every queued save was answered.
 */

/**
 * Saves answers of one case one after the other, each with the reading's current version as
 * `base_version`, so a conflict means another tab or client really changed the reading.
 * Changes to a key waiting in the queue replace the waiting value.
 *
 * A save refused because the reading is marked done (409, e.g. by another tab) is not kept
 * for a retry: `onDone(count)` is called once the queue is empty, to reload the case.
 */
export class SaveQueue {
  /**
   * @param {number} caseId
   * @param {SaveHooks} hooks
   */
  constructor(caseId, hooks) {
    this.caseId = caseId;
    this.hooks = hooks;
    /** @type {Map<string, any>} key -> value waiting to be sent */
    this.waiting = new Map();
    /** @type {Promise<void> | null} */
    this.running = null;
    /** @type {Map<string, {value: any, detail: string}>} key -> last failed save */
    this.failed = new Map();
    this.conflict = false;
    this.refusedDone = 0;
  }

  /** @returns {boolean} Whether a save is running or waiting. */
  get busy() {
    return this.running !== null || this.waiting.size > 0;
  }

  /**
   * Queue an answer.
   * @param {string} key
   * @param {any} value
   * @returns {Promise<void>}
   */
  save(key, value) {
    this.waiting.set(key, value);
    setStatus('saving');
    return this._kick();
  }

  /** @returns {Promise<void>} */
  _kick() {
    if (!this.running) {
      this.running = this._run().finally(() => {
        this.running = null;
        if (this.waiting.size > 0) this._kick();
      });
    }
    return this.running;
  }

  /**
   * Send the answers whose last save failed once more.
   * @returns {Promise<void>}
   */
  retryFailed() {
    for (const [key, { value }] of this.failed) {
      if (!this.waiting.has(key)) this.waiting.set(key, value);
    }
    if (this.waiting.size > 0) {
      setStatus('saving');
      return this._kick();
    }
    return Promise.resolve();
  }

  /** Forget failed saves (after the case was reloaded from the server). */
  forgetFailed() {
    this.failed.clear();
  }

  /** Resolves when every queued save has been answered. */
  async drain() {
    while (this.running) await this.running;
  }

  async _run() {
    while (this.waiting.size > 0) {
      const [key, value] = /** @type {[string, any]} */ (this.waiting.entries().next().value);
      this.waiting.delete(key);
      try {
        const result = await api('PUT', `/api/cases/${this.caseId}/answers/${encodeURIComponent(key)}`, {
          body: { value, base_version: this.hooks.getVersion() ?? 0 }, // 0: no reading yet
          quiet: true,
        });
        this.failed.delete(key);
        this.hooks.setVersion(result.version);
        this.hooks.onSaved(key, result.value);
        if (result.conflict) this.conflict = true;
      } catch (error) {
        if (error instanceof ApiError && error.status === 409 && this.hooks.onDone) {
          this.failed.delete(key); // the case is done: a retry would be refused again
          this.refusedDone += 1;
          continue;
        }
        const detail = error instanceof ApiError ? error.detail : String(error);
        this.failed.set(key, { value, detail });
        this.hooks.onFailed(key, value, detail);
        if (error instanceof ApiError && error.status === 401) return;
      }
    }
    const refused = this.refusedDone;
    this.refusedDone = 0;
    if (this.failed.size > 0) {
      const [key, { detail }] = /** @type {[string, {value: any, detail: string}]} */ ([...this.failed.entries()].pop());
      setStatus('error', `${key}: ${detail}`);
    } else if (refused > 0) {
      setStatus('idle', 'Not saved: the case is marked done');
    } else {
      setStatus('saved');
    }
    if (refused > 0 && this.hooks.onDone) await this.hooks.onDone(refused);
    if (this.conflict) {
      this.conflict = false;
      await this.hooks.onConflict();
    }
    if (this.hooks.onIdle) this.hooks.onIdle();
  }
}

/**
 * Warn before leaving a page whose answers are not all saved.
 * @param {() => boolean} isUnsafe
 */
export function guardUnload(isUnsafe) {
  window.addEventListener('beforeunload', (event) => {
    // Not when the session is gone: the login page brings the reader back here.
    if (!isRedirecting() && isUnsafe()) {
      event.preventDefault();
      event.returnValue = '';
    }
  });
}
