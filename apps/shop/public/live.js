'use strict';
/* global io, api, renderCart, renderSessions, refreshAll, notify -- io from /socket.io/socket.io.min.js (served by socket.io), the rest from app.js */
// The page's live channel (docs/shop-api.md, "Live channel"): socket.io namespace /live over the
// websocket transport. The cart follows changes made in other tabs, browsers or by any replica; a
// session that ends elsewhere (logout, revoke, log out everywhere, a timeout) or moves to a new ID
// (a login) refreshes the page's state, then the channel reconnects with the browser's new cookie; a
// change to the user's other sessions (a login elsewhere, a revoke) reads the session list again.
// Uses api, renderCart, renderSessions and refreshAll from app.js.

(() => {
  const indicator = document.querySelector('[data-test="live"]');
  const show = (on) => {
    indicator.textContent = on ? 'on' : 'off';
    indicator.classList.toggle('on', on);
  };
  // socket.io does not reconnect by itself after the server ended the session: the page does, below.
  const socket = io('/live', { transports: ['websocket'], reconnectionDelayMax: 5_000 });

  socket.on('connect', () => show(true));
  socket.on('disconnect', () => show(false));
  socket.on('cart', ({ cart }) => renderCart(cart));
  socket.on('sessions', () => {
    api('GET', '/api/auth/sessions')
      .then(renderSessions)
      .catch((error) => notify(error.message));
  });
  socket.on('session:ended', () => {
    // The server disconnects right after: reload what the page shows, then reopen the channel.
    socket.once('disconnect', () => {
      refreshAll()
        .catch((error) => notify(error.message))
        .finally(() => socket.connect());
    });
  });
  // After the page's own login: the channel reconnects with the new cookie.
  window.reconnectLive = () => {
    socket.disconnect();
    socket.connect();
  };
})();
