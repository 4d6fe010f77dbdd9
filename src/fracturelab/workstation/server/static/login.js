// @ts-check
// Login page. Public, so it may use only itself and style.css (not http.js and the other
// modules of the logged-in pages).

const form = /** @type {HTMLFormElement & {username: HTMLInputElement, password: HTMLInputElement}} */ (document.getElementById('login-form'));
const errorBox = /** @type {HTMLElement} */ (document.getElementById('login-error'));
const button = /** @type {HTMLButtonElement} */ (document.getElementById('login-button'));

/**
 * Where to go after login: the `next` parameter if it names a page of this server, else `/`.
 * `next` is resolved the way the browser will resolve it (so `/\t/evil.example/`, `//host`,
 * `/\\host` or `https://host` cannot lead elsewhere) and refused unless it stays on this origin.
 */
function nextPath() {
  const next = new URLSearchParams(location.search).get('next');
  if (!next) return '/';
  let target;
  try {
    target = new URL(next, location.origin);
  } catch (error) {
    return '/';
  }
  if (target.origin !== location.origin || target.pathname.startsWith('/login')) return '/';
  return target.href; // absolute: a path such as //host can no longer be read as a host
}

function showError(message) {
  errorBox.textContent = message;
}

async function detailOf(response) {
  try {
    const data = await response.json();
    if (data && typeof data.detail === 'string') return data.detail;
    if (data && Array.isArray(data.detail) && data.detail.length) {
      return data.detail.map((d) => d.msg).join('; ');
    }
  } catch (error) {
    // not JSON
  }
  return `the server answered ${response.status} ${response.statusText}`.trim();
}

// Already logged in (e.g. the back button): go on to where the user wanted to be.
fetch('/api/me', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
  .then((response) => { if (response.ok) location.replace(nextPath()); })
  .catch(() => {});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError('Enter your user name and password.');
    (username ? form.password : form.username).focus();
    return;
  }
  showError('');
  button.disabled = true;
  button.textContent = 'Signing in…';
  try {
    let response;
    try {
      response = await fetch('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username, password }),
        credentials: 'same-origin',
      });
    } catch (error) {
      showError('No connection to the server. Check that it is running and try again.');
      return;
    }
    if (response.ok) {
      location.assign(nextPath());
      return;
    }
    if (response.status === 401) {
      showError(await detailOf(response));
      form.password.select();
    } else if (response.status === 429) {
      const wait = Number(response.headers.get('Retry-After'));
      const minutes = Number.isFinite(wait) && wait > 0 ? Math.ceil(wait / 60) : null;
      showError(minutes
        ? `Too many failed attempts. Try again in about ${minutes} minute${minutes === 1 ? '' : 's'}.`
        : await detailOf(response));
    } else {
      showError(await detailOf(response));
    }
  } finally {
    button.disabled = false;
    button.textContent = 'Sign in';
  }
});
