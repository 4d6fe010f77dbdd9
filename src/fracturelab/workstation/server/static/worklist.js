// @ts-check
// Worklist: the reader's cases with status, answers given and time spent.

import { showError } from './banners.js';
import { formatDuration, h } from './dom.js';
import { api, getMe } from './http.js';
import { initTopbar } from './topbar.js';

/**
 * @param {string} id
 * @returns {any} The element (worklist.html has every id this file asks for).
 */
const $ = (id) => document.getElementById(id);
let rows = [];
let task = new URLSearchParams(location.search).get('task') || '';

function shown() {
  return rows.filter((row) => (!task || row.task === task) && !($('hide-done').checked && row.status === 'done'));
}

function render() {
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.tabs [data-task]'))) {
    button.setAttribute('aria-pressed', String(button.dataset.task === task));
  }
  const scope = rows.filter((row) => !task || row.task === task);
  const done = scope.filter((row) => row.status === 'done').length;
  const total = scope.length;
  const bar = $('progress');
  bar.setAttribute('aria-valuemax', String(total));
  bar.setAttribute('aria-valuenow', String(done));
  $('progress-bar').style.width = total ? `${(100 * done) / total}%` : '0';
  const time = scope.reduce((sum, row) => sum + row.time_spent_s, 0);
  $('progress-text').textContent = `${done} of ${total} done · ${formatDuration(time)} spent`;

  const next = scope.find((row) => row.status === 'open') || scope.find((row) => row.status === 'new');
  const cont = $('continue');
  cont.hidden = !next;
  if (next) {
    cont.href = `/cases/${next.case_id}`;
    cont.textContent = next.status === 'open' ? `Continue: ${next.name}` : `Start: ${next.name}`;
  }

  const visible = shown();
  $('empty').hidden = visible.length > 0;
  $('empty').textContent = rows.length ? 'No cases match this filter.' : 'No cases on your worklist yet. An admin assigns them.';
  $('worklist').hidden = visible.length === 0;
  $('worklist-body').replaceChildren(...visible.map((row) => h('tr', { dataset: { caseId: row.case_id, status: row.status } },
    h('td', {}, h('a', { className: 'case-link', href: `/cases/${row.case_id}` }, row.name)),
    h('td', {}, h('span', { className: `badge ${row.task}` }, row.task)),
    h('td', {}, h('span', { className: `badge ${row.status}` }, row.status)),
    h('td', { className: 'num' }, String(row.answered)),
    h('td', { className: 'num' }, formatDuration(row.time_spent_s)))));
}

async function main() {
  await initTopbar();
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.tabs [data-task]'))) {
    button.addEventListener('click', () => {
      task = button.dataset.task;
      const url = new URL(location.href);
      if (task) url.searchParams.set('task', task);
      else url.searchParams.delete('task');
      history.replaceState(null, '', url);
      render();
    });
  }
  $('hide-done').addEventListener('change', render);
  rows = await api('GET', '/api/worklist');
  render();
  document.body.dataset.ready = 'true';
}

getMe().then(main).catch((error) => {
  if (error?.status !== 401 && !error?.detail) showError(`The worklist could not load: ${error.message || error}`);
});
