// @ts-check
// Admin page: progress per reader and task, readings per case with the reference standard,
// assigning cases to readers, accounts (create, deactivate, reactivate, reset password) and
// the patient-name setting.

import { showBanner, showError } from './banners.js';
import { formatDuration, h } from './dom.js';
import { api, getMe } from './http.js';
import { initTopbar } from './topbar.js';

/**
 * @param {string} id
 * @returns {any} The element (admin.html has every id this file asks for).
 */
const $ = (id) => document.getElementById(id);
const selected = new Set();
let progress = { readers: [], cases: [] };
let task = '';
let me = null;

function bar(done, total) {
  const fill = h('span');
  fill.style.width = total ? `${(100 * done) / total}%` : '0';
  return h('div', {
    className: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(done),
    'aria-label': `${done} of ${total} done`,
  }, fill);
}

function renderReaders() {
  const rows = progress.readers;
  $('readers-empty').hidden = rows.length > 0;
  $('readers-table').hidden = rows.length === 0;
  $('readers-body').replaceChildren(...rows.map((r) => h('tr', { dataset: { reader: r.username, task: r.task } },
    h('td', {}, r.username),
    h('td', {}, h('span', { className: `badge ${r.task}` }, r.task)),
    h('td', { className: 'num' }, String(r.assigned)),
    h('td', { className: 'num' }, String(r.done)),
    h('td', {}, bar(r.done, r.assigned)),
    h('td', { className: 'num' }, formatDuration(r.time_spent_s)))));
}

function referenceCell(caseEntry, reading) {
  if (reading.is_reference) return h('span', { className: 'badge reference' }, 'reference');
  return h('button', {
    type: 'button',
    className: 'make-reference',
    disabled: reading.reading_id === null,
    title: reading.reading_id === null ? 'Not started yet' : `Use ${reading.username}'s reading as the reference standard of ${caseEntry.name}`,
    dataset: { readingId: reading.reading_id ?? '' },
    onclick: () => makeReference(caseEntry, reading),
  }, 'Make reference');
}

/** How often the reader opened the case again after marking it done; highlighted if ever. */
function reopenedCell(reading) {
  const count = reading.reopen_count ?? 0;
  return h('td', {
    className: count > 0 ? 'num reopened' : 'num',
    dataset: { reopenCount: String(count) },
    title: count > 0
      ? `${reading.username} opened this case again ${count === 1 ? 'once' : `${count} times`} after marking it done (audited)`
      : 'Never opened again after being marked done',
  }, String(count));
}

function renderCases() {
  const cases = progress.cases.filter((c) => !task || c.task === task);
  $('cases-empty').hidden = cases.length > 0;
  $('cases-table').hidden = cases.length === 0;
  const rows = [];
  for (const c of cases) {
    const readings = c.readings.length ? c.readings : [null];
    readings.forEach((reading, index) => {
      const cells = [];
      if (index === 0) {
        const span = String(readings.length);
        const box = h('input', {
          type: 'checkbox', className: 'case-select', 'aria-label': `Select ${c.name} for assignment`,
          checked: selected.has(c.case_id), dataset: { caseId: c.case_id },
          onchange: (event) => {
            if (event.target.checked) selected.add(c.case_id);
            else selected.delete(c.case_id);
            $('selected-count').textContent = String(selected.size);
          },
        });
        cells.push(h('td', { rowspan: span }, box));
        cells.push(h('td', { rowspan: span }, c.name));
        cells.push(h('td', { rowspan: span }, h('span', { className: `badge ${c.task}` }, c.task)));
      }
      if (reading === null) {
        cells.push(h('td', { colspan: '6', className: 'muted' }, 'not assigned'));
      } else {
        const who = reading.reading_id === null ? reading.username
          : h('button', { type: 'button', className: 'view-reading', title: 'Show the answers', onclick: () => showReading(reading.reading_id) }, reading.username);
        cells.push(h('td', {}, who));
        cells.push(h('td', {}, h('span', { className: `badge ${reading.status}` }, reading.status)));
        cells.push(h('td', { className: 'num' }, String(reading.answered)));
        cells.push(h('td', { className: 'num' }, formatDuration(reading.time_spent_s)));
        cells.push(reopenedCell(reading));
        cells.push(h('td', {}, referenceCell(c, reading)));
      }
      rows.push(h('tr', {
        dataset: { caseId: c.case_id, reader: reading?.username ?? '', readingId: reading?.reading_id ?? '' },
      }, ...cells));
    });
  }
  $('cases-body').replaceChildren(...rows);
  $('selected-count').textContent = String(selected.size);
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.tabs [data-task]'))) {
    button.setAttribute('aria-pressed', String(button.dataset.task === task));
  }
}

function answerText(value) {
  if (value.not_assessable) return 'not assessable';
  if ('genant_grade' in value) {
    if (value.genant_grade === null && value.morphology === null) return '—';
    return `grade ${value.genant_grade ?? '?'}, ${value.morphology ?? 'morphology ?'}`;
  }
  const centre = value.center_x === null ? 'no centre' : `centre x ${Number(value.center_x).toFixed(1)}, y ${Number(value.center_y).toFixed(1)} px`;
  return `${value.label ?? 'no type'}, ${centre}`;
}

async function showReading(readingId) {
  const reading = await api('GET', `/api/admin/readings/${readingId}`);
  const entries = Object.entries(reading.answers);
  const reopened = reading.reopen_count ? `, opened again ${reading.reopen_count} × after done` : '';
  $('reading-title').textContent = `${reading.username}'s reading (${reading.status}${reading.is_reference ? ', reference' : ''}${reopened})`;
  $('reading-body').replaceChildren(entries.length
    ? h('table', {}, h('tbody', {}, ...entries.map(([key, value]) => h('tr', {}, h('td', {}, key), h('td', {}, answerText(value))))))
    : h('p', { className: 'muted' }, 'No answers yet.'));
  const dialog = $('reading-dialog');
  dialog.hidden = false;
  dialog.querySelector('[data-close]')?.focus();
}

async function makeReference(caseEntry, reading) {
  try {
    await api('POST', '/api/admin/reference', { body: { reading_id: reading.reading_id } });
  } catch (error) {
    return;
  }
  showBanner('info', `${reading.username}'s reading is now the reference standard of ${caseEntry.name}.`, { timeoutMs: 5000 });
  await loadProgress();
}

async function loadProgress() {
  progress = await api('GET', '/api/admin/progress');
  const known = new Set(progress.cases.map((c) => c.case_id));
  for (const id of [...selected]) if (!known.has(id)) selected.delete(id);
  renderReaders();
  renderCases();
}

function renderReaderChoices(users) {
  const active = users.filter((u) => u.active);
  const ticked = new Set([.../** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('#reader-choices input:checked'))].map((input) => input.value));
  $('reader-choices').replaceChildren(...active.map((u) => h('label', {},
    h('input', { type: 'checkbox', name: 'reader', value: u.username, checked: ticked.has(u.username), dataset: { reader: u.username } }),
    `${u.username}`, u.role === 'admin' ? h('span', { className: 'muted' }, ' (admin)') : null)));
}

// ------------------------------------------------------------------ accounts

function showSecret(username, password, what) {
  const box = $('account-secret');
  box.hidden = false;
  box.replaceChildren(`${what} Password for ${username}: `,
    h('code', { className: 'secret', id: 'generated-password', dataset: { username } }, password),
    ' — shown only now; give it to the user, who can change it with “Change password”. ',
    h('button', { type: 'button', onclick: () => { box.hidden = true; box.replaceChildren(); } }, 'Hide'));
}

function confirmIn(cell, question, label, action) {
  const before = [...cell.childNodes];
  const restore = () => cell.replaceChildren(...before);
  cell.replaceChildren(`${question} `,
    h('button', { type: 'button', className: 'danger confirm', onclick: async () => { await action(); } }, label),
    ' ', h('button', { type: 'button', className: 'cancel', onclick: restore }, 'Cancel'));
  cell.querySelector('.confirm')?.focus();
}

async function setActive(account, active) {
  let answer;
  try {
    answer = await api('POST', '/api/admin/accounts/active', { body: { username: account.username, active } });
  } catch (error) {
    await loadAccounts();
    return;
  }
  const ended = answer.sessions_ended ? ` and logged out of ${answer.sessions_ended} session${answer.sessions_ended === 1 ? '' : 's'}` : '';
  showBanner('info', active ? `${account.username} can log in again.` : `${account.username} is deactivated${ended}.`, { timeoutMs: 6000 });
  await loadAccounts();
}

async function resetPassword(account) {
  let answer;
  try {
    answer = await api('POST', '/api/admin/accounts/password', { body: { username: account.username } });
  } catch (error) {
    await loadAccounts();
    return;
  }
  await loadAccounts();
  showSecret(account.username, answer.password, `${account.username}'s password was reset and their sessions ended.`);
}

function accountActions(account) {
  const cell = h('td', { className: 'actions' });
  if (account.username === me.username) {
    cell.append(h('span', { className: 'muted' }, 'you (use Change password)'));
    return cell;
  }
  const toggle = account.active
    ? h('button', { type: 'button', className: 'deactivate', onclick: () => confirmIn(cell, `Deactivate ${account.username}?`, 'Deactivate', () => setActive(account, false)) }, 'Deactivate')
    : h('button', { type: 'button', className: 'reactivate', onclick: () => setActive(account, true) }, 'Reactivate');
  const reset = h('button', {
    type: 'button', className: 'reset-password',
    onclick: () => confirmIn(cell, `Give ${account.username} a new password?`, 'Reset password', () => resetPassword(account)),
  }, 'Reset password');
  cell.append(toggle, ' ', reset);
  return cell;
}

function renderAccounts(list) {
  $('accounts-body').replaceChildren(...list.accounts.map((account) => h('tr', {
    dataset: { username: account.username, active: String(account.active), role: account.role },
  },
  h('td', {}, account.username),
  h('td', {}, account.role),
  h('td', {}, h('span', { className: `badge ${account.active ? 'done' : 'open'}` }, account.active ? 'active' : 'deactivated')),
  h('td', { className: 'num' }, String(account.sessions)),
  h('td', {}, new Date(account.created_at).toLocaleDateString()),
  accountActions(account))));
  $('password-rule').textContent = `(at least ${list.min_password_length} characters; empty: generate one)`;
  renderReaderChoices(list.accounts);
}

async function loadAccounts() {
  renderAccounts(await api('GET', '/api/admin/accounts'));
}

async function createAccount(event) {
  event.preventDefault();
  const form = $('account-form');
  const username = form.elements.username.value.trim();
  const password = form.elements.password.value;
  const result = $('account-result');
  $('create-account').disabled = true;
  try {
    const answer = await api('POST', '/api/admin/accounts', {
      body: { username, role: form.elements.role.value, password: password || null }, quiet: true,
    });
    form.reset();
    result.textContent = `Created ${answer.role} ${answer.username}.`;
    await loadAccounts();
    if (answer.password) showSecret(answer.username, answer.password, `Account ${answer.username} created.`);
  } catch (error) {
    result.textContent = `Not created: ${error.detail || error}`;
  } finally {
    $('create-account').disabled = false;
  }
}

async function assign(event) {
  event.preventDefault();
  const readers = [.../** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('#reader-choices input:checked'))].map((input) => input.value);
  const result = $('assign-result');
  if (!selected.size || !readers.length) {
    result.textContent = !selected.size ? 'Tick at least one case in the table.' : 'Tick at least one reader.';
    return;
  }
  $('assign-button').disabled = true;
  try {
    const answer = await api('POST', '/api/admin/assign', { body: { case_ids: [...selected], readers } });
    result.textContent = `Added ${answer.added} assignment${answer.added === 1 ? '' : 's'}; ${answer.already} already existed.`;
    selected.clear();
    await loadProgress();
  } catch (error) {
    result.textContent = `Not assigned: ${error.detail || error}`;
  } finally {
    $('assign-button').disabled = false;
  }
}

async function main() {
  const user = await initTopbar();
  me = user;
  if (user.role !== 'admin') {
    showError('This page is for admins.');
    return;
  }
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.tabs [data-task]'))) {
    button.addEventListener('click', () => { task = button.dataset.task; renderCases(); });
  }
  $('select-visible').addEventListener('click', () => {
    for (const c of progress.cases) if (!task || c.task === task) selected.add(c.case_id);
    renderCases();
  });
  $('select-none').addEventListener('click', () => { selected.clear(); renderCases(); });
  $('assign-form').addEventListener('submit', assign);
  const dialog = $('reading-dialog');
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog || (event.target instanceof Element && event.target.closest('[data-close]'))) dialog.hidden = true;
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') dialog.hidden = true;
  });
  const toggle = $('show-patient-names');
  toggle.addEventListener('change', async () => {
    const wanted = toggle.checked;
    toggle.disabled = true;
    try {
      const settings = await api('PUT', '/api/admin/settings', { body: { show_patient_names: wanted } });
      toggle.checked = settings.show_patient_names;
      showBanner('info', settings.show_patient_names ? 'Readers now see patient names.' : 'Patient names are hidden from readers.', { timeoutMs: 4000 });
    } catch (error) {
      toggle.checked = !wanted;
    } finally {
      toggle.disabled = false;
    }
  });
  $('account-form').addEventListener('submit', createAccount);
  const [settings] = await Promise.all([
    api('GET', '/api/admin/settings'),
    loadAccounts(),
    loadProgress(),
  ]);
  toggle.checked = settings.show_patient_names;
  document.body.dataset.ready = 'true';
}

getMe().then(main).catch((error) => {
  if (error?.status !== 401 && !error?.detail) showError(`The admin page could not load: ${error.message || error}`);
});
