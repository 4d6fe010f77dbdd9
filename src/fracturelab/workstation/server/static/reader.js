// What the spine and femur reader views share: moving between cases and finishing a case.

import {
  api, ApiError, setStatus, showBanner, showError, trackTime,
} from '/static/api.js';

/**
 * A function `leaveTo(targetId, direction)` that opens another case once every save is
 * answered. With unsaved answers it warns first; the same key again leaves anyway.
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
 */
export async function setDone(caseId, queue, done, { missing = [], hasNext = false } = {}) {
  await queue.drain();
  let result;
  try {
    result = await api('POST', `/api/cases/${caseId}/status`, { body: { done } });
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
 */
export async function fetchCase(caseId, task) {
  let data;
  try {
    data = await api('GET', `/api/cases/${caseId}`);
  } catch (error) {
    document.getElementById('case-name').textContent = 'Case not available';
    document.getElementById('loading').textContent = error instanceof ApiError ? error.detail : String(error);
    setStatus('idle', 'Nothing to save');
    return null;
  }
  if (data.task !== task) {
    location.replace(`/cases/${caseId}`);
    return null;
  }
  return data;
}

/** Count time spent on a case the reader may edit; say that other cases are view only. */
export function startTiming(caseId, data, onTotal) {
  if (data.can_edit) {
    trackTime(caseId, { onTotal });
  } else {
    showBanner('info', VIEW_ONLY);
  }
}

/** Shown when an answer is changed on a case marked done (the server would refuse it: 409). */
export const DONE_LOCKED = 'This case is marked done — Open case again to change it.';

/**
 * Show the notice `#done-lock` ("This case is marked done — [Open case again] to change it")
 * and mark the page read-only (`body[data-locked]`) while the reader's case is done.
 */
export function showDoneLock(locked) {
  const notice = document.getElementById('done-lock');
  if (notice) notice.hidden = !locked;
  document.body.dataset.locked = String(locked);
}

/** Shown when a case is opened that is not on the user's worklist (admins may look). */
export const VIEW_ONLY = 'View only: this case is not on your worklist, so nothing is saved.';
