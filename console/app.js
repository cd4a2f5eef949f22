// The console's shell: sign-in, the header (navigation, live mark, bell, sign-out), the
// notifications list, and the hash routes #/inbox, #/chat/<number>, #/settings.

import { api, get, post, del, setCsrfToken, onUnauthorized, reason } from './api.js';
import { h, replace, errorBox, when, icon } from './dom.js';
import { Live } from './live.js';
import { Inbox } from './inbox.js';
import { Chat } from './chat.js';
import { Settings } from './settings.js';

const root = document.getElementById('app');

const state = {
  session: null,
  live: null,
  inbox: null,
  chat: null,
  settings: null,
  config: null, // the tenant's config, null when none (or not active)
};

// ---- sign-in -------------------------------------------------------------------------

function showSignIn(message) {
  teardown();
  const token = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true,
    spellcheck: 'false', placeholder: 'wbt_…',
  });
  const status = h('div', { class: 'form-status', 'aria-live': 'assertive' });
  if (message) status.append(errorBox(message));
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'wabactl console'),
    h('p', { class: 'muted' }, 'Sign in with a tenant API token (', h('code', {}, 'wabactl token create'), ').'),
    h('label', { for: 'token' }, 'API token'),
    token,
    button,
    status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    replace(status);
    try {
      const session = await api('POST', '/console/api/session', { token: token.value.trim() });
      token.value = '';
      await start(session);
    } catch (err) {
      replace(status, errorBox(err.status === 401 ? 'That token is invalid or revoked.' : reason(err)));
      button.disabled = false;
      token.focus();
    }
  });
  replace(root, h('main', { class: 'signin-page' }, form));
  token.focus();
}

function teardown() {
  state.live?.stop();
  state.live = null;
  state.session = null;
  setCsrfToken(null);
}

let signingOut = false;
function signedOut() {
  if (signingOut || !state.session) return;
  signingOut = true;
  showSignIn('Your session ended (signed out, expired or its token was revoked). Sign in again.');
  signingOut = false;
}

onUnauthorized(signedOut);

// ---- the shell -------------------------------------------------------------------------

const shell = {};

function buildShell() {
  shell.liveMark = h('span', { class: 'live-mark connecting', role: 'status' }, 'connecting…');
  shell.badge = h('span', { class: 'badge', hidden: true }, '0');
  shell.bell = h('button', {
    type: 'button', class: 'icon bell', 'aria-label': 'Notifications', 'aria-haspopup': 'true',
    'aria-expanded': 'false', 'aria-controls': 'notifications', onclick: toggleNotifications,
  }, icon('bell'), shell.badge);
  shell.bell.addEventListener('animationend', () => shell.bell.classList.remove('pulse'));
  shell.panel = h('section', { id: 'notifications', class: 'notifications card', hidden: true, 'aria-label': 'Unread conversations' });
  shell.nav = {
    inbox: h('a', { href: '#/inbox' }, 'Inbox'),
    settings: h('a', { href: '#/settings' }, 'Settings'),
  };
  const signOut = h('button', { type: 'button', class: 'icon', 'aria-label': 'Sign out', title: 'Sign out', onclick: doSignOut }, icon('signout'));
  shell.main = h('main', { id: 'main' });
  shell.banner = h('div', { class: 'banner', role: 'status', hidden: true });
  replace(root,
    h('header', { class: 'top' },
      h('span', { class: 'brand' }, 'wabactl'),
      h('span', { class: 'tenant', title: 'Tenant' }, state.session.tenant_id),
      h('nav', { 'aria-label': 'Console' }, shell.nav.inbox, shell.nav.settings),
      h('span', { class: 'spacer' }),
      shell.liveMark,
      h('div', { class: 'bell-wrap' }, shell.bell, shell.panel),
      signOut),
    shell.banner,
    shell.main);
}

async function doSignOut() {
  try {
    await del('/console/api/session');
  } catch {
    // Signed out either way: the page forgets the session.
  }
  showSignIn();
}

function setLive(mode) {
  shell.liveMark.className = `live-mark ${mode}`;
  shell.liveMark.textContent = mode === 'live' ? 'live' : 'reconnecting…';
}

function setUnread(n) {
  shell.badge.textContent = n > 99 ? '99+' : String(n);
  shell.badge.hidden = n === 0;
  shell.bell.setAttribute('aria-label', n ? `Notifications: ${n} unread` : 'Notifications: none unread');
  if (!shell.panel.hidden) renderNotifications();
}

function pulse() {
  shell.bell.classList.remove('pulse');
  // Restart the animation even when one is running.
  void shell.bell.offsetWidth;
  shell.bell.classList.add('pulse');
}

function toggleNotifications() {
  const open = shell.panel.hidden;
  shell.panel.hidden = !open;
  shell.bell.setAttribute('aria-expanded', String(open));
  if (open) renderNotifications();
}

function closeNotifications() {
  shell.panel.hidden = true;
  shell.bell.setAttribute('aria-expanded', 'false');
}

async function renderNotifications() {
  const list = h('ul', { class: 'plain' });
  const status = h('div', {});
  const markAll = h('button', { type: 'button', class: 'link', onclick: async () => {
    markAll.disabled = true;
    try {
      await post('/api/whatsapp/read-all', {});
      await refreshUnread();
      state.inbox?.refresh();
      renderNotifications();
    } catch (err) {
      replace(status, errorBox(`Could not mark them read: ${reason(err)}`));
      markAll.disabled = false;
    }
  } }, 'Mark all read');
  replace(shell.panel,
    h('div', { class: 'panel-head' }, h('h2', {}, 'Unread'), markAll),
    status, list);
  try {
    const { conversations } = await get('/api/whatsapp/unread');
    if (!conversations.length) {
      list.append(h('li', { class: 'muted empty' }, 'Nothing unread.'));
      markAll.disabled = true;
    }
    for (const c of conversations) {
      const peer = c.phone_number ?? c.user_id;
      list.append(h('li', {},
        h('a', { href: `#/chat/${encodeURIComponent(peer)}`, class: 'note', onclick: closeNotifications },
          h('span', { class: 'name' }, c.contact_name ?? c.username ?? peer),
          h('span', { class: 'badge' }, String(c.unread)),
          h('span', { class: 'last' }, c.last_text ?? 'New message'),
          h('time', { datetime: c.last_message_at }, when(c.last_message_at)))));
    }
  } catch (err) {
    replace(status, errorBox(`Could not load the unread conversations: ${reason(err)}`));
  }
}

async function refreshUnread() {
  try {
    const { count } = await get('/api/whatsapp/unread-count');
    setUnread(count);
  } catch {
    // The next event or refresh tries again; a 401 has already gone to sign-in.
  }
}

async function refreshConfig() {
  try {
    const c = await get('/api/whatsapp/config');
    state.config = c.is_active ? c : null;
  } catch (err) {
    if (err.status !== 404) throw err;
    state.config = null;
  }
  state.chat?.setConfigured(Boolean(state.config));
}

// ---- events ----------------------------------------------------------------------------

function onEvent(event) {
  if (event.type === 'message.received') pulse();
  if (event.type === 'unread.changed' && typeof event.unread === 'number') {
    setUnread(event.unread);
  } else if (event.type === 'message.received' || event.type === 'unread.changed') {
    refreshUnread();
  }
  if (event.type === 'config.changed') refreshConfig().catch(() => {});
  state.inbox?.onEvent(event);
  state.chat?.onEvent(event);
}

async function stillSignedIn() {
  try {
    const s = await get('/console/api/session');
    if (!s.signed_in) {
      signedOut();
      return false;
    }
    setCsrfToken(s.csrf_token);
    return true;
  } catch (err) {
    if (err.status === 401) {
      signedOut();
      return false;
    }
    // The daemon is down: keep trying.
    state.live.retry = setTimeout(() => state.live?.restart(), 3000);
    return false;
  }
}

// ---- routes ----------------------------------------------------------------------------

function route() {
  if (!state.session) return;
  const hash = location.hash || '#/inbox';
  closeNotifications();
  const chatMatch = hash.match(/^#\/chat\/(.+)$/);
  const view = hash.startsWith('#/settings') ? 'settings' : 'inbox';
  shell.nav.inbox.toggleAttribute('aria-current', view === 'inbox');
  shell.nav.settings.toggleAttribute('aria-current', view === 'settings');
  if (view === 'settings') {
    state.chat?.close();
    state.chat = null;
    state.inbox = null;
    state.settings = new Settings({
      tenant: state.session.tenant_id,
      onChanged: () => refreshConfig().catch(() => {}),
    });
    replace(shell.main, state.settings.el);
    state.settings.load();
    return;
  }
  state.settings = null;
  if (!state.inbox) {
    state.inbox = new Inbox();
    state.chatPane = h('section', { class: 'chat-pane', 'aria-label': 'Chat' });
    replace(shell.main, h('div', { class: 'split' }, state.inbox.el, state.chatPane));
    state.inbox.load();
  }
  const peer = chatMatch ? decodeURIComponent(chatMatch[1]) : null;
  shell.main.querySelector('.split').classList.toggle('chatting', Boolean(peer));
  state.inbox.select(peer);
  if (!peer) {
    state.chat?.close();
    state.chat = null;
    replace(state.chatPane, h('div', { class: 'placeholder muted' }, 'Choose a conversation.'));
    return;
  }
  if (state.chat?.peer === peer) return;
  state.chat?.close();
  state.chat = new Chat({
    peer,
    configured: Boolean(state.config),
    conversation: state.inbox.find(peer),
    onRead: () => {
      refreshUnread();
      state.inbox?.refresh();
    },
  });
  replace(state.chatPane, state.chat.el);
  state.chat.load();
}

window.addEventListener('hashchange', route);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !shell.panel?.hidden) {
    closeNotifications();
    shell.bell.focus();
  }
});

async function start(session) {
  state.session = session;
  setCsrfToken(session.csrf_token);
  buildShell();
  state.live = new Live({
    onEvent,
    onState: setLive,
    stillSignedIn,
    onResync: () => {
      refreshUnread();
      state.inbox?.refresh();
      state.chat?.refresh();
    },
  });
  state.live.start();
  state.inbox = null;
  try {
    await refreshConfig();
  } catch (err) {
    shell.banner.hidden = false;
    replace(shell.banner, errorBox(`Could not read the WhatsApp config: ${reason(err)}`));
  }
  refreshUnread();
  route();
}

async function boot() {
  try {
    const session = await get('/console/api/session');
    if (session.signed_in) {
      await start(session);
    } else {
      showSignIn();
    }
  } catch (err) {
    if (err.status === 401) {
      showSignIn();
    } else {
      replace(root, h('main', { class: 'signin-page' }, h('div', { class: 'card' },
        h('h1', {}, 'wabactl console'), errorBox(`The console cannot start: ${reason(err)}`),
        h('button', { type: 'button', onclick: boot }, 'Try again'))));
    }
  }
  document.documentElement.dataset.ready = 'true';
  performance.mark('console-ready');
}

boot();
