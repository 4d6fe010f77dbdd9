// @ts-check
// The shell of the spine and femur reader views: it starts the page, owns the keys both views
// share (next / previous case, done, help) and writes the help table from the key map; the
// views add their own keys, answers and image viewer.

import { guardUnload, SaveQueue, setStatus } from './autosave.js';
import { showBanner, showError } from './banners.js';
import { formatDuration, h, isTyping } from './dom.js';
import { initHelp } from './help.js';
import { api, ApiError, getMe } from './http.js';
import { findBinding, helpRows } from './keys.js';
import { trackTime } from './timing.js';
import { initTopbar } from './topbar.js';

/** @typedef {import('./keys.js').KeyBinding} KeyBinding */

/**
 * What the shell and a view share about the reader's reading of the case.
 * @typedef {object} ReadingState
 * @property {any} data The case, GET /api/cases/{id}.
 * @property {number | null} version The reading's version (null: no reading yet).
 * @property {string} status 'new', 'open' or 'done'.
 * @property {number} timeSpent Seconds.
 */

/**
 * A reader view, as the shell drives it.
 * @typedef {object} ReaderView
 * @property {'spine' | 'femur'} task
 * @property {ReadingState} state
 * @property {SaveQueue} queue
 * @property {KeyBinding[]} keys The view's keys, listed in the help before the shared ones.
 * @property {KeyBinding[]} [notes] Help rows after the shared keys (the mouse).
 * @property {() => string[]} missing What has no complete answer (for the done message).
 * @property {() => void} render Redraw after the status or the time changed.
 * @property {() => void} setup Wire the view's controls (before the case is fetched).
 * @property {(data: any) => void} show Show the fetched case.
 * @property {() => Promise<void>} load Load and show the images.
 */

/** The case id of this page, from its URL `/cases/{id}`. */
export const caseId = Number(location.pathname.split('/').filter(Boolean).pop());

/** Shown when an answer is changed on a case marked done (the server would refuse it: 409). */
export const DONE_LOCKED = 'This case is marked done — Open case again to change it.';

/** Shown when a case is opened that is not on the user's worklist (admins may look). */
export const VIEW_ONLY = 'View only: this case is not on your worklist, so nothing is saved.';

/**
 * @param {string} id
 * @returns {any} The element (the reader pages have every id this file asks for).
 */
const $ = (id) => document.getElementById(id);

/**
 * A function `leaveTo(targetId, direction)` that opens another case once every save is
 * answered. With unsaved answers it warns first; the same key again leaves anyway.
 * @param {SaveQueue} queue
 * @returns {(targetId: number | null, direction: 'next' | 'previous') => Promise<void>}
 */
export function caseNavigator(queue) {
  let warned = false;
  return async function leaveTo(targetId, direction) {
    if (!targetId) {
      showBanner('info', direction === 'next'
        ? 'This is the last case of this task on your worklist.'
        : 'This is the first case of this task on your worklist.', { timeoutMs: 4000 });
      return;
    }
    await queue.drain();
    if (queue.failed.size > 0 && !warned) {
      warned = true;
      showError(`${queue.failed.size} answer(s) could not be saved (see the status line). `
        + 'Click the status line to try again, or press the key once more to leave anyway.');
      return;
    }
    location.assign(`/cases/${targetId}`);
  };
}

/**
 * Mark the case done (or open again) after the pending saves; returns the new status, or
 * null when the server refused (the error banner says why). `missing` names what has no
 * complete answer, for the message.
 * @param {number} id
 * @param {SaveQueue} queue
 * @param {boolean} done
 * @param {{missing?: string[], hasNext?: boolean}} [options]
 * @returns {Promise<string | null>}
 */
export async function setDone(id, queue, done, { missing = [], hasNext = false } = {}) {
  await queue.drain();
  let result;
  try {
    result = await api('POST', `/api/cases/${id}/status`, { body: { done } });
  } catch (error) {
    return null;
  }
  if (result.status === 'done') {
    const next = hasNext ? ' Press ] for the next case.' : '';
    if (missing.length) {
      showBanner('warning', `Case marked done, but ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no complete answer.${next}`);
    } else {
      showBanner('info', `Case marked done.${next}`, { timeoutMs: 5000 });
    }
  } else {
    showBanner('info', 'Case open again.', { timeoutMs: 3000 });
  }
  return result.status;
}

/**
 * The case of a reader page, or null: when it cannot be had the page says why, and a case of
 * the other task is opened in its own page.
 * @param {number} id
 * @param {string} task
 * @returns {Promise<any>}
 */
export async function fetchCase(id, task) {
  let data;
  try {
    data = await api('GET', `/api/cases/${id}`);
  } catch (error) {
    $('case-name').textContent = 'Case not available';
    $('loading').textContent = error instanceof ApiError ? error.detail : String(error);
    setStatus('idle', 'Nothing to save');
    return null;
  }
  if (data.task !== task) {
    location.replace(`/cases/${id}`);
    return null;
  }
  return data;
}

/**
 * Take the reading's version, status and time from a fetched case.
 * @param {ReadingState} state
 * @param {any} data GET /api/cases/{id}
 */
export function applyReading(state, data) {
  state.data = data;
  state.version = data.reading ? data.reading.version : null;
  state.status = data.reading ? data.reading.status : 'new';
  state.timeSpent = data.reading ? data.reading.time_spent_s : 0;
}

/**
 * The reader's own case is marked done: nothing may change until it is opened again.
 * @param {ReadingState} state
 * @returns {boolean}
 */
export function isLocked(state) {
  return Boolean(state.data?.can_edit) && state.status === 'done';
}

/**
 * Whether answers may change now; if not, a banner says why (view only, or done).
 * @param {ReadingState} state
 * @returns {boolean}
 */
export function editable(state) {
  if (!state.data.can_edit) {
    showBanner('info', VIEW_ONLY, { timeoutMs: 4000 });
    return false;
  }
  if (isLocked(state)) {
    showBanner('info', DONE_LOCKED, { timeoutMs: 4000 });
    return false;
  }
  return true;
}

/**
 * Show the notice `#done-lock` ("This case is marked done — [Open case again] to change it")
 * and mark the page read-only (`body[data-locked]`) while the reader's case is done.
 * @param {boolean} locked
 */
export function showDoneLock(locked) {
  const notice = document.getElementById('done-lock');
  if (notice) notice.hidden = !locked;
  document.body.dataset.locked = String(locked);
}

/**
 * The reading's part of the panel: status badge, done button, time, case navigation, lock.
 * @param {ReadingState} state
 */
export function renderReading(state) {
  const badge = $('case-status');
  badge.textContent = state.status;
  badge.className = `badge ${state.status}`;
  $('done').replaceChildren(state.status === 'done' ? 'Open case again ' : 'Mark case done ', h('span', { className: 'key' }, 'D'));
  $('time-spent').textContent = formatDuration(state.timeSpent);
  $('prev-case').disabled = !state.data.previous_case_id;
  $('next-case').disabled = !state.data.next_case_id;
  document.body.dataset.caseStatus = state.status;
  showDoneLock(isLocked(state));
}

/**
 * The parts of a case that do not change while it is read: title, name, and DICOM header.
 * @param {any} data GET /api/cases/{id}
 * @param {string} task
 * @param {string} meta What the image is, e.g. "spine CT".
 */
export function renderCaseHeader(data, task, meta) {
  document.title = `${data.name} · ${task} · fracturelab`;
  $('case-name').textContent = data.name;
  $('case-meta').textContent = `${meta} · case ${data.case_id}`;
  const dicom = data.dicom;
  $('dicom-section').hidden = !dicom;
  if (dicom) {
    $('dicom').replaceChildren(...Object.entries(dicom).flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, value || '–')]));
  }
}

/**
 * Start a reader view: wire it, fill the top bar, fetch the case, count time, load images.
 * Keys: the view's, then ] / [ (next / previous case), D (done or open again) and ? (help).
 * @param {ReaderView} view
 */
export function startReader(view) {
  const { state, queue } = view;
  const help = initHelp();
  const leaveTo = caseNavigator(queue);

  async function toggleDone() {
    if (!state.data.can_edit) return;
    const status = await setDone(caseId, queue, state.status !== 'done', { missing: view.missing(), hasNext: Boolean(state.data.next_case_id) });
    if (status) {
      state.status = status;
      view.render();
    }
  }

  /** @type {KeyBinding[]} */
  const shared = [
    {
      keys: [']', '['], label: '] / [', help: 'Next / previous case',
      run: (event) => (event.key === ']'
        ? leaveTo(state.data.next_case_id, 'next')
        : leaveTo(state.data.previous_case_id, 'previous')),
    },
    { keys: ['d'], label: 'D', help: 'Mark the case done (again: open it again)', run: toggleDone },
    { keys: ['?'], label: '?', help: 'Show / hide this help', run: () => help.toggle() },
  ];
  const bindings = [...view.keys, ...shared, ...(view.notes ?? [])];
  document.querySelector('#help tbody')?.replaceChildren(...helpRows(bindings));

  /** @param {KeyboardEvent} event */
  function onKey(event) {
    if (help.isOpen) {
      if (event.key === '?') {
        event.preventDefault();
        help.toggle();
      }
      return;
    }
    if (isTyping(event) || event.altKey || event.ctrlKey || event.metaKey) return;
    const binding = findBinding(bindings, event);
    if (!binding?.run) return;
    binding.run(event);
    event.preventDefault();
    event.stopPropagation();
  }

  async function main() {
    view.setup();
    $('done').addEventListener('click', toggleDone);
    $('reopen-case').addEventListener('click', toggleDone);
    $('prev-case').addEventListener('click', () => leaveTo(state.data.previous_case_id, 'previous'));
    $('next-case').addEventListener('click', () => leaveTo(state.data.next_case_id, 'next'));
    $('status').addEventListener('click', () => { if (queue.failed.size) queue.retryFailed(); });
    window.addEventListener('keydown', onKey, true);
    guardUnload(() => queue.busy || queue.failed.size > 0);
    await initTopbar();
    const data = await fetchCase(caseId, view.task);
    if (!data) return;
    view.show(data);
    if (data.can_edit) {
      trackTime(caseId, { onTotal: (total) => { state.timeSpent = total; view.render(); } });
    } else {
      showBanner('info', VIEW_ONLY);
    }
    await view.load();
  }

  getMe().then(main).catch((error) => {
    if (!(error instanceof ApiError && error.status === 401)) showError(`The page could not start: ${error.message || error}`);
  });
}
