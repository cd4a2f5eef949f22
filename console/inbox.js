// The inbox: conversations newest first, with unread badges, the 24-hour window mark and
// a search over names, numbers and last messages. Live events refresh it from the daemon,
// which keeps the unread counts (so they stay right whoever marks messages read).

import { get, reason } from './api.js';
import { h, replace, errorBox, when } from './dom.js';

export function windowOpen(expiresAt) {
  return Boolean(expiresAt) && new Date(expiresAt).getTime() > Date.now();
}

function preview(c) {
  if (c.last_text) return c.last_text;
  return 'No text (media or a template)';
}

export class Inbox {
  constructor() {
    this.conversations = [];
    this.selected = null;
    this.timer = null;
    this.search = h('input', {
      id: 'inbox-search', type: 'search', placeholder: 'Search name, number or text',
      autocomplete: 'off', oninput: () => this.render(),
    });
    this.list = h('ul', { class: 'plain conversations', 'aria-label': 'Conversations' });
    this.status = h('div', { class: 'list-status' }, h('p', { class: 'loading muted' }, 'Loading conversations…'));
    this.el = h('aside', { class: 'inbox', 'aria-label': 'Inbox' },
      h('div', { class: 'inbox-head' },
        h('label', { for: 'inbox-search', class: 'visually-hidden' }, 'Search conversations'),
        this.search),
      this.status,
      this.list);
  }

  async load() {
    try {
      const { conversations } = await get('/api/whatsapp/conversations?limit=200');
      this.conversations = conversations;
      replace(this.status);
      this.render();
    } catch (err) {
      replace(this.status, errorBox(`Could not load the conversations: ${reason(err)}`),
        h('button', { type: 'button', onclick: () => this.load() }, 'Retry'));
    }
  }

  // Many events arrive together (a delivery, its unread change): one reload for all.
  refresh() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 60);
  }

  onEvent(event) {
    if (event.type.startsWith('message.') || event.type === 'unread.changed' || event.type === 'contact.merged') {
      this.refresh();
    }
  }

  find(peer) {
    return this.conversations.find((c) => c.phone_number === peer || c.user_id === peer) ?? null;
  }

  select(peer) {
    this.selected = peer;
    this.render();
  }

  render() {
    const q = this.search.value.trim().toLowerCase();
    const shown = this.conversations.filter((c) => !q || [c.contact_name, c.username, c.phone_number, c.user_id, c.last_text]
      .some((v) => v && v.toLowerCase().includes(q)));
    // Keyboard users keep their place across the re-render an event causes.
    const focused = document.activeElement?.closest?.('.conversation')?.dataset.peer;
    replace(this.list);
    if (!shown.length && !this.status.childElementCount) {
      this.list.append(h('li', { class: 'muted empty' }, q ? 'No conversation matches.' : 'No conversations yet.'));
    }
    for (const c of shown) {
      const peer = c.phone_number ?? c.user_id;
      const name = c.contact_name ?? c.username ?? c.phone_number ?? c.user_id;
      const sub = [c.phone_number && c.phone_number !== name ? `+${c.phone_number}` : null,
        c.username && c.username !== name ? `@${c.username}` : null].filter(Boolean).join(' · ');
      const open = windowOpen(c.window_expires_at);
      const current = peer === this.selected;
      this.list.append(h('li', {},
        h('a', {
          href: `#/chat/${encodeURIComponent(peer)}`, class: `conversation${c.unread ? ' unread' : ''}`,
          'aria-current': current ? 'true' : null, 'data-peer': peer,
        },
        h('span', { class: 'name' }, name),
        h('time', { datetime: c.last_message_at }, when(c.last_message_at)),
        h('span', { class: 'sub' }, sub),
        h('span', {
          class: `window ${open ? 'open' : 'closed'}`,
          title: open ? '24-hour window open' : '24-hour window closed: templates only',
        }, open ? 'window open' : 'window closed'),
        h('span', { class: 'last' }, preview(c)),
        c.unread ? h('span', { class: 'badge', 'aria-label': `${c.unread} unread` }, String(c.unread)) : null)));
    }
    if (focused) this.list.querySelector(`.conversation[data-peer="${CSS.escape(focused)}"]`)?.focus();
  }
}
