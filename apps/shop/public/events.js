// The live list of the events of the user's own sessions: polls `/api/events` through the balancer.
// Whichever replica answers, the list is the same, since every replica hears every replica's events over Redis.
// Logged-in users only (the route answers 401 to others); the panel hides itself then.
'use strict';

(() => {
  const POLL_MS = 2_000;
  const LABELS = { created: 'new session', login: 'login', logout: 'logout', revoked: 'revoked', destroyed: 'destroyed', expired: 'expired' };

  function line(event) {
    const item = document.createElement('li');
    item.setAttribute('data-test', 'event');
    item.setAttribute('data-type', event.type);
    const what = document.createElement('span');
    what.className = 'what';
    what.title = new Date(event.at).toLocaleTimeString();
    // Text only, never HTML: a user id is data.
    what.textContent = `${LABELS[event.type] ?? event.type} · ${event.session}${event.userId ? ` · user ${event.userId}` : ''}`;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = event.replica;
    item.append(what, who);
    return item;
  }

  async function poll() {
    const panel = document.getElementById('events-panel');
    if (document.getElementById('signed-in').hidden) {
      panel.hidden = true; // not logged in: nothing to ask for
      return;
    }
    try {
      const res = await fetch('/api/events');
      panel.hidden = !res.ok;
      if (res.ok) document.getElementById('events').replaceChildren(...(await res.json()).map(line));
    } catch {
      // the next round tries again
    }
  }

  poll();
  setInterval(poll, POLL_MS);
})();
