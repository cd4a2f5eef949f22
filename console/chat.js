// One conversation: messages grouped by date, ticks that only move forward, quoted
// replies, media inline (documents as downloads), edits and revocations, older pages on
// scroll-up with the position kept, and a composer that is the template picker alone
// once the 24-hour window has closed (or a wa.me link when the tenant has no config).

import { get, post, reason } from './api.js';
import { h, replace, errorBox, time, day, icon } from './dom.js';
import { windowOpen } from './inbox.js';

const PAGE = 30;

// The order statuses move in; a later webhook with a lower rank never moves a tick back.
const RANK = { queued: 0, sent: 1, delivered: 2, read: 3, played: 4, failed: 5 };
const rank = (s) => RANK[s] ?? -1;

const TICKS = {
  queued: ['○', 'Sending'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
  played: ['✓✓', 'Played'],
  failed: ['⚠', 'Failed'],
};

function belongsTo(m, peer) {
  return m && (m.phone_number === peer || m.user_id === peer);
}

export class Chat {
  constructor({ peer, configured, conversation, onRead }) {
    this.peer = peer;
    this.configured = configured;
    this.conversation = conversation;
    this.onRead = onRead;
    this.byId = new Map();
    this.nextBefore = null;
    this.loadingOlder = false;
    this.windowExpiresAt = conversation?.window_expires_at ?? null;
    this.templates = null;
    this.closed = false;

    this.title = h('h2', { class: 'chat-title' }, conversation?.contact_name ?? conversation?.username ?? peer);
    this.sub = h('span', { class: 'sub' }, /^\d+$/.test(peer) ? `+${peer}` : peer);
    this.windowMark = h('span', { class: 'window' });
    this.log = h('div', {
      class: 'messages', role: 'log', 'aria-label': 'Messages', tabindex: '0', 'aria-live': 'polite',
    }, h('p', { class: 'loading muted' }, 'Loading messages…'));
    this.log.addEventListener('scroll', () => {
      if (this.log.scrollTop < 60) this.loadOlder();
    });
    this.composer = h('div', { class: 'composer' });
    this.el = h('div', { class: 'chat' },
      h('div', { class: 'chat-head' },
        h('a', { href: '#/inbox', class: 'icon back', 'aria-label': 'Back to the inbox' }, icon('back')),
        h('div', { class: 'who' }, this.title, this.sub),
        this.windowMark),
      this.log,
      this.composer);
    this.renderComposer();
  }

  close() {
    this.closed = true;
  }

  setConfigured(configured) {
    if (configured === this.configured) return;
    this.configured = configured;
    this.renderComposer();
  }

  async load() {
    try {
      const page = await get(`/api/whatsapp/messages?phone_number=${encodeURIComponent(this.peer)}&limit=${PAGE}`);
      if (this.closed) return;
      for (const m of page.messages) this.upsert(m);
      this.nextBefore = page.next_before;
      this.render({ stick: true });
      this.markRead();
    } catch (err) {
      replace(this.log, errorBox(`Could not load the messages: ${reason(err)}`),
        h('button', { type: 'button', onclick: () => this.load() }, 'Retry'));
    }
  }

  // The newest page again, merged with what is shown (after a stream that could not resume).
  async refresh() {
    try {
      const page = await get(`/api/whatsapp/messages?phone_number=${encodeURIComponent(this.peer)}&limit=${PAGE}`);
      if (this.closed) return;
      const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
      const wasOpen = windowOpen(this.windowExpiresAt);
      for (const m of page.messages) this.upsert(m);
      this.render({ stick: nearBottom });
      if (wasOpen !== windowOpen(this.windowExpiresAt)) this.renderComposer();
    } catch {
      // What is shown stays; the next event or reload brings the rest.
    }
  }

  async loadOlder() {
    if (!this.nextBefore || this.loadingOlder) return;
    this.loadingOlder = true;
    // The hint above the oldest message says so in place: inserting a line would push
    // what the reader sees down.
    const hint = this.log.querySelector('.older-hint');
    if (hint) hint.textContent = 'Loading older messages…';
    try {
      const page = await get(`/api/whatsapp/messages?phone_number=${encodeURIComponent(this.peer)}&limit=${PAGE}&before=${encodeURIComponent(this.nextBefore)}`);
      if (this.closed) return;
      // Keep what the reader sees in place: the distance from the bottom does not change.
      const fromBottom = this.log.scrollHeight - this.log.scrollTop;
      for (const m of page.messages) this.upsert(m);
      this.nextBefore = page.next_before;
      this.render({ stick: false });
      this.log.scrollTop = this.log.scrollHeight - fromBottom;
    } catch (err) {
      if (hint) {
        hint.className = 'error older-hint';
        hint.textContent = `Could not load older messages: ${reason(err)}`;
      }
    } finally {
      this.loadingOlder = false;
    }
  }

  // Keeps the furthest status seen: a late or replayed "sent" after "read" changes nothing.
  upsert(m) {
    const old = this.byId.get(m.id);
    if (old && m.direction === 'outgoing' && rank(m.status) < rank(old.status)) {
      m = { ...m, status: old.status, error: old.error };
    }
    this.byId.set(m.id, m);
    if (m.direction === 'incoming' && m.window_expires_at) this.windowExpiresAt = m.window_expires_at;
  }

  onEvent(event) {
    const m = event.message;
    if (!belongsTo(m, this.peer)) return;
    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
    const wasOpen = windowOpen(this.windowExpiresAt);
    this.upsert(m);
    if (m.direction === 'incoming' && m.type !== 'system' && !m.window_expires_at) {
      this.windowExpiresAt = new Date(new Date(m.timestamp).getTime() + 24 * 3600 * 1000).toISOString();
    }
    this.render({ stick: nearBottom || m.direction === 'outgoing' });
    if (wasOpen !== windowOpen(this.windowExpiresAt)) this.renderComposer();
    if (event.type === 'message.received' && document.visibilityState === 'visible') this.markRead();
  }

  async markRead() {
    const unread = [...this.byId.values()].some((m) => m.direction === 'incoming' && !m.read_at);
    if (!unread) return;
    try {
      await post('/api/whatsapp/read-all', { phone_number: this.peer });
      for (const m of this.byId.values()) if (m.direction === 'incoming' && !m.read_at) m.read_at = new Date().toISOString();
      this.onRead();
    } catch {
      // Stays unread; the inbox shows it so.
    }
  }

  sorted() {
    return [...this.byId.values()].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : Number(a.id) - Number(b.id)));
  }

  findByWamid(wamid) {
    for (const m of this.byId.values()) if (m.message_id === wamid) return m;
    return null;
  }

  render({ stick }) {
    const items = [];
    let lastDay = null;
    if (this.nextBefore) items.push(h('p', { class: 'muted older-hint' }, 'Scroll up for older messages'));
    for (const m of this.sorted()) {
      const d = day(m.timestamp);
      if (d !== lastDay) {
        items.push(h('div', { class: 'day', role: 'separator' }, h('span', {}, d)));
        lastDay = d;
      }
      items.push(this.bubble(m));
    }
    if (!items.length) items.push(h('p', { class: 'muted empty' }, 'No messages yet.'));
    const top = this.log.scrollTop;
    replace(this.log, items);
    this.log.scrollTop = stick ? this.log.scrollHeight : top;
    const open = windowOpen(this.windowExpiresAt);
    this.windowMark.className = `window ${open ? 'open' : 'closed'}`;
    this.windowMark.textContent = open ? 'window open' : 'window closed';
  }

  media(m) {
    const media = m.media;
    const kind = m.type;
    if (!['image', 'sticker', 'audio', 'video', 'document'].includes(kind)) return null;
    if (media?.state === 'pending' || (!m.media_url && media && media.state !== 'failed')) {
      return h('p', { class: 'media-pending muted' }, 'Fetching the media…');
    }
    if (media?.state === 'failed' || !m.media_url) {
      return h('p', { class: 'media-failed' }, `Media unavailable${media?.error ? `: ${media.error}` : ''}`);
    }
    const url = m.media_url;
    const label = m.text || media?.filename || kind;
    if (kind === 'image' || kind === 'sticker') return h('img', { class: 'media', src: url, alt: label, loading: 'lazy' });
    if (kind === 'audio') return h('audio', { class: 'media', src: url, controls: true, preload: 'metadata', 'aria-label': 'Audio message' });
    if (kind === 'video') return h('video', { class: 'media', src: url, controls: true, preload: 'metadata', 'aria-label': label });
    return h('a', { class: 'document', href: url, download: media?.filename || 'document' },
      icon('document'), media?.filename || 'Document', h('span', { class: 'muted' }, ' — download'));
  }

  bubble(m) {
    const out = m.direction === 'outgoing';
    const parts = [];
    if (m.reply_to) {
      const q = this.findByWamid(m.reply_to);
      parts.push(h('blockquote', { class: 'quote' },
        q ? (q.revoked_at ? 'A deleted message' : q.text || q.type) : 'A message not loaded here'));
    }
    if (m.revoked_at) {
      parts.push(h('p', { class: 'revoked' }, 'This message was deleted'));
    } else {
      parts.push(this.media(m));
      const caption = ['document'].includes(m.type) && m.text === m.media?.filename ? null : m.text;
      if (m.template_name && !caption) parts.push(h('p', { class: 'text template' }, `Template: ${m.template_name}`));
      if (caption) parts.push(h('p', { class: 'text' }, caption));
      if (!caption && !m.template_name && !parts.some(Boolean)) parts.push(h('p', { class: 'text muted' }, `(${m.type})`));
    }
    const meta = [h('time', { datetime: m.timestamp }, time(m.timestamp))];
    if (m.edited_at && !m.revoked_at) meta.unshift(h('span', { class: 'edited' }, 'edited'));
    if (m.source === 'business_app') meta.unshift(h('span', { class: 'source' }, 'from the app'));
    if (out) {
      const [glyph, label] = TICKS[m.status] ?? ['', m.status];
      meta.push(h('span', { class: `ticks ${m.status}`, role: 'img', 'aria-label': label, title: label, 'data-status': m.status }, glyph));
    }
    if (out && m.status === 'failed') {
      const e = m.error;
      parts.push(h('p', { class: 'failure', role: 'alert' },
        `Not delivered${e ? `: ${[e.title, e.details].filter(Boolean).join(' — ')}${e.code ? ` (${e.code})` : ''}` : ''}`));
    }
    return h('div', {
      class: `msg ${out ? 'out' : 'in'}${m.revoked_at ? ' is-revoked' : ''}${m.edited_at ? ' is-edited' : ''}`,
      'data-id': m.id, 'data-wamid': m.message_id ?? '', 'data-status': m.status,
    }, parts, h('div', { class: 'meta' }, meta));
  }

  // ---- composer --------------------------------------------------------------------------

  renderComposer() {
    if (!this.configured) {
      const digits = this.peer.replace(/\D/g, '');
      replace(this.composer, h('div', { class: 'fallback' },
        h('p', {}, 'This tenant has no active WhatsApp config, so the console cannot send. '),
        digits ? h('a', { class: 'button primary', href: `https://wa.me/${digits}`, target: '_blank', rel: 'noopener noreferrer' }, 'Open in WhatsApp') : null,
        ' ', h('a', { href: '#/settings' }, 'Set up WhatsApp')));
      return;
    }
    if (!windowOpen(this.windowExpiresAt)) {
      replace(this.composer,
        h('p', { class: 'window-banner', role: 'status' }, 'The 24-hour window is closed: the customer must write first, or you can send a template.'),
        this.templatePicker({ only: true }));
      return;
    }
    const status = h('div', { class: 'send-status', 'aria-live': 'assertive' });
    const text = h('textarea', { id: 'composer-text', rows: '1', placeholder: 'Write a message (Enter sends, Shift+Enter for a new line)' });
    const send = h('button', { type: 'submit', class: 'icon primary send', 'aria-label': 'Send' }, icon('send'));
    const templates = h('button', { type: 'button', class: 'icon', 'aria-label': 'Send a template', 'aria-expanded': 'false', title: 'Templates' }, icon('template'));
    const pickerSlot = h('div', {});
    templates.addEventListener('click', () => {
      const open = !pickerSlot.childElementCount;
      replace(pickerSlot, open ? this.templatePicker({ only: false }) : null);
      templates.setAttribute('aria-expanded', String(open));
    });
    const form = h('form', { class: 'compose' },
      h('label', { for: 'composer-text', class: 'visually-hidden' }, 'Message'),
      templates, text, send);
    const submit = async () => {
      const body = text.value;
      if (!body.trim()) return;
      send.disabled = true;
      replace(status);
      try {
        const m = await post('/api/whatsapp/send', { phone_number: this.peer, text: body });
        text.value = '';
        if (m && m.id) {
          this.upsert(m);
          this.render({ stick: true });
        }
      } catch (err) {
        replace(status, errorBox(`Not sent: ${reason(err)}`));
      } finally {
        send.disabled = false;
        text.focus();
      }
    };
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });
    replace(this.composer, pickerSlot, form, status);
  }

  templatePicker({ only }) {
    const box = h('div', { class: `templates${only ? ' only' : ''}` });
    const status = h('div', { 'aria-live': 'assertive' });
    const select = h('select', { id: 'template-select' }, h('option', { value: '' }, 'Choose a template…'));
    const params = h('div', { class: 'params' });
    const send = h('button', { type: 'submit', class: 'primary', disabled: true }, 'Send template');
    const form = h('form', { class: 'template-form' },
      h('label', { for: 'template-select' }, 'Template'), select, params, send, status);
    box.append(form);
    const show = () => {
      const t = this.templates?.[Number(select.value)];
      replace(params);
      send.disabled = !t;
      if (!t) return;
      const field = (id, label, attrs) => params.append(h('label', { for: id }, label), h('input', { id, ...attrs }));
      const header = t.header;
      if (header && header.format === 'TEXT') {
        (header.parameters ?? []).forEach((p, i) =>
          field(`template-header-${i}`, `Header {{${p}}}`, { 'data-header': 'text', required: true }));
      } else if (header && ['IMAGE', 'VIDEO', 'DOCUMENT'].includes(header.format)) {
        const kind = header.format.toLowerCase();
        field('template-header-media', `Header ${kind} (https URL)`, { type: 'url', 'data-header': kind, required: true });
      }
      (t.parameters ?? []).forEach((p, i) =>
        field(`template-param-${i}`, `Parameter {{${p}}}`, { 'data-param': p, required: true }));
      (t.buttons ?? []).forEach((b) => {
        const what = b.takes === 'coupon_code' ? 'coupon code' : b.takes === 'payload' ? 'payload (optional)' : 'value';
        field(`template-button-${b.index}`, `Button “${b.text}” ${what}`,
          { 'data-button': String(b.index), required: b.takes !== 'payload' });
      });
    };
    select.addEventListener('change', show);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const t = this.templates?.[Number(select.value)];
      if (!t) return;
      send.disabled = true;
      replace(status);
      const named = t.parameter_format === 'NAMED';
      const template = { name: t.name, language: t.language };
      template.body_params = [...params.querySelectorAll('input[data-param]')]
        .map((i) => (named ? `${i.dataset.param}=${i.value}` : i.value));
      for (const i of params.querySelectorAll('input[data-header]')) template[`header_${i.dataset.header}`] = i.value;
      const buttons = [...params.querySelectorAll('input[data-button]')].filter((i) => i.value !== '');
      if (buttons.length) template.button_params = buttons.map((i) => ({ index: Number(i.dataset.button), value: i.value }));
      try {
        const m = await post('/api/whatsapp/send', { phone_number: this.peer, template });
        if (m && m.id) {
          this.upsert(m);
          this.render({ stick: true });
        }
        select.value = '';
        show();
      } catch (err) {
        replace(status, errorBox(`Not sent: ${reason(err)}`));
        send.disabled = false;
      }
    });
    const load = async () => {
      try {
        if (!this.templates) this.templates = (await get('/api/whatsapp/templates?status=APPROVED')).templates;
        if (!this.templates.length) {
          replace(status, h('p', { class: 'muted' }, 'No approved templates. Sync them with wabactl template sync.'));
          return;
        }
        this.templates.forEach((t, i) => select.append(h('option', { value: String(i) }, `${t.name} (${t.language})`)));
      } catch (err) {
        replace(status, errorBox(`Could not load the templates: ${reason(err)}`));
      }
    };
    load();
    return box;
  }
}
