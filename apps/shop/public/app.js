// The shop's page: plain DOM code, no build step. Every request goes through `api`, which shows the
// replica that answered (X-Replica) so you can watch one session being served by all replicas.
'use strict';

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const $ = (selector) => document.querySelector(selector);
let csrfToken = null; // fetched on the first change, replaced by the one login returns (login rotates it)
let products = [];

/** A JSON request; throws an Error carrying `status` for any answer other than 2xx. */
async function api(method, path, body, retried = false) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken ?? (await fetchCsrfToken());
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  noteReplica(method, path, res);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 403 && method !== 'GET' && !retried) {
    // The session ended elsewhere (revoked, logged out everywhere, expired): get a fresh token once.
    csrfToken = null;
    return api(method, path, body, true);
  }
  if (!res.ok) throw Object.assign(new Error(data?.message ?? res.statusText), { status: res.status });
  return data;
}

async function fetchCsrfToken() {
  const res = await fetch('/api/csrf');
  noteReplica('GET', '/api/csrf', res);
  if (!res.ok) throw new Error(`Could not get a CSRF token (${res.status})`);
  csrfToken = (await res.json()).csrfToken;
  return csrfToken;
}

function noteReplica(method, path, res) {
  const replica = res.headers.get('x-replica') ?? '?';
  $('[data-test="replica"]').textContent = replica;
  const entry = el('li', {}, [
    el('span', { class: 'what', title: new Date().toLocaleTimeString() }, `${method} ${path} → ${res.status}`),
    el('span', { class: 'who' }, replica),
  ]);
  $('#activity').prepend(entry);
  while ($('#activity').children.length > 30) $('#activity').lastChild.remove();
}

/** Builds an element; text is always set as text, never parsed as HTML (user agents are user input). */
function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of [].concat(children)) node.append(child);
  return node;
}

function notify(message) {
  const notice = $('#notice');
  notice.textContent = message;
  notice.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => (notice.hidden = true), 4000);
}

/** Runs a button's action with the button disabled, reporting failures instead of losing them. */
async function busy(button, action) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    notify(error.message);
  } finally {
    button.disabled = false;
  }
}

function renderProducts() {
  $('#products').replaceChildren(
    ...products.map((product) => {
      const add = el('button', { type: 'button', 'data-test': 'add' }, 'Add');
      add.addEventListener('click', () => busy(add, async () => renderCart(await api('POST', '/api/cart/items', { sku: product.sku, qty: 1 }))));
      return el('li', { class: 'product', 'data-test': 'product', 'data-sku': product.sku }, [
        el('span', { class: 'name' }, product.name),
        el('span', { class: 'sku' }, product.sku),
        el('div', { class: 'row' }, [el('span', {}, money.format(product.price / 100)), add]),
      ]);
    }),
  );
}

function renderCart(cart) {
  $('#cart-lines').replaceChildren(
    ...cart.items.map((item) => {
      const remove = el('button', { type: 'button', class: 'link', 'data-test': 'remove', title: 'Remove this line' }, 'Remove');
      remove.addEventListener('click', () => busy(remove, async () => renderCart(await api('DELETE', `/api/cart/items/${encodeURIComponent(item.sku)}`))));
      return el('li', { 'data-test': 'cart-line', 'data-sku': item.sku }, [
        el('span', { class: 'grow' }, [item.name, el('span', { class: 'small' }, money.format(item.price / 100) + ' each')]),
        el('span', { class: 'qty' }, ['× ', el('span', { 'data-test': 'qty' }, String(item.qty))]),
        remove,
      ]);
    }),
  );
  $('#cart-empty').hidden = cart.items.length > 0;
  $('[data-test="cart-total"]').textContent = money.format(cart.total / 100);
}

function renderUser(user) {
  $('#login-form').hidden = Boolean(user);
  $('#signed-in').hidden = !user;
  $('#sessions-panel').hidden = !user;
  $('[data-test="user"]').textContent = user ? user.username : '';
  if (!user) $('#sessions').replaceChildren();
}

function renderSessions(sessions) {
  $('#sessions').replaceChildren(
    ...sessions.map((session) => {
      const revoke = el('button', { type: 'button', class: 'link', 'data-test': 'revoke' }, 'Revoke');
      revoke.addEventListener('click', () =>
        busy(revoke, async () => {
          await api('DELETE', `/api/auth/sessions/${encodeURIComponent(session.id)}`);
          // Revoking this browser's own session logs it out; otherwise only the list changes.
          if (session.current) await refreshAll();
          else renderSessions(await api('GET', '/api/auth/sessions'));
        }),
      );
      const seen = `${session.ip || 'unknown address'} · last seen ${shortTime(session.lastSeenAt)}`;
      const attributes = { 'data-test': 'session', 'data-current': String(session.current) };
      return el('li', attributes, [
        el('span', { class: 'grow' }, [
          el('span', {}, [describeAgent(session.userAgent), session.current ? el('span', { class: 'tag' }, 'this browser') : '']),
          el('span', { class: 'small', title: session.userAgent ?? '' }, seen),
        ]),
        revoke,
      ]);
    }),
  );
}

/** A time today, a date otherwise: enough to tell sessions apart. */
function shortTime(iso) {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? date.toLocaleTimeString() : date.toLocaleDateString();
}

function describeAgent(userAgent) {
  if (!userAgent) return 'Unknown device';
  const browser = /(Firefox|Edg|Chrome|Safari|curl|node)[/ ]?[\d.]*/i.exec(userAgent);
  const system = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(userAgent);
  return [browser?.[0] ?? userAgent.slice(0, 40), system?.[0]].filter(Boolean).join(' on ');
}

/** Reads everything from the server; a visitor who is not logged in gets no session from this. */
async function refreshAll() {
  const me = await fetch('/api/auth/me');
  noteReplica('GET', '/api/auth/me', me);
  const user = me.ok ? (await me.json()).user : null;
  if (!me.ok && me.status !== 401) throw new Error(`Could not load your account (${me.status})`);
  renderUser(user);
  if (products.length === 0) {
    products = await api('GET', '/api/products');
    renderProducts();
  }
  renderCart(await api('GET', '/api/cart'));
  if (user) renderSessions(await api('GET', '/api/auth/sessions'));
}

$('#login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $('[data-test="login-error"]');
  busy($('[data-test="login-submit"]'), async () => {
    error.textContent = '';
    try {
      const answer = await api('POST', '/api/auth/login', { username: form.username.value, password: form.password.value });
      csrfToken = answer.csrfToken;
      form.reset();
      await refreshAll();
      // The live channel (live.js) opened before the login carries the old cookie: reopen it with the new one.
      window.reconnectLive?.();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
});

for (const [id, path] of [
  ['#logout', '/api/auth/logout'],
  ['#logout-all', '/api/auth/logout-all'],
]) {
  const button = $(id);
  button.addEventListener('click', () =>
    busy(button, async () => {
      await api('POST', path);
      csrfToken = null;
      await refreshAll();
    }),
  );
}

refreshAll().catch((error) => notify(error.message));
