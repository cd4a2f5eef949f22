// The settings page: the tenant's WhatsApp config (through the REST config routes), its
// status, Test connection, Save, Disconnect, and the webhook URL to give Meta.

import { get, post, del, reason } from './api.js';
import { h, replace, errorBox, icon } from './dom.js';

const STATUS = {
  connected: ['Connected', 'ok'],
  configured: ['Configured (not tested yet)', 'ok'],
  none: ['Not configured', 'off'],
  error: ['Error', 'bad'],
  reauth: ['Needs a new token', 'bad'],
  inactive: ['Disconnected (inactive)', 'off'],
};

function field(id, label, props, hint) {
  const input = h('input', { id, name: id, ...props });
  return { input, row: h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint muted', id: `${id}-hint` }, hint) : null) };
}

export class Settings {
  constructor({ tenant, onChanged }) {
    this.tenant = tenant;
    this.onChanged = onChanged;
    this.config = null;
    this.statusEl = h('p', { class: 'status-indicator', role: 'status', 'aria-live': 'polite' });
    this.message = h('div', { class: 'form-status', 'aria-live': 'assertive' });
    this.fields = {
      access_token: field('access_token', 'Access token', { type: 'password', autocomplete: 'off', spellcheck: 'false' }, 'A system user token from Meta Business settings. Left empty, the saved one is kept.'),
      app_secret: field('app_secret', 'App secret', { type: 'password', autocomplete: 'off', spellcheck: 'false' }, 'Verifies the webhooks Meta signs. Left empty, the saved one is kept.'),
      phone_number_id: field('phone_number_id', 'Phone number ID', { inputmode: 'numeric', autocomplete: 'off', required: true }),
      business_account_id: field('business_account_id', 'Business account ID', { inputmode: 'numeric', autocomplete: 'off' }),
      verify_token: field('verify_token', 'Verify token', { type: 'password', autocomplete: 'off', spellcheck: 'false' }, 'The word Meta sends back when it checks the webhook URL. Left empty, the saved one is kept.'),
    };
    this.save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    this.test = h('button', { type: 'button', onclick: () => this.runTest() }, 'Test connection');
    this.disconnect = h('button', { type: 'button', class: 'danger', onclick: () => this.askDisconnect() }, 'Disconnect');
    this.confirm = h('div', { class: 'confirm', hidden: true });
    const url = `${location.origin}/api/whatsapp/webhook/${encodeURIComponent(tenant)}`;
    this.webhook = h('input', { id: 'webhook_url', readonly: true, value: url });
    this.copied = h('span', { class: 'muted', 'aria-live': 'polite' });
    const copy = h('button', { type: 'button', class: 'icon', 'aria-label': 'Copy the webhook URL', title: 'Copy', onclick: () => this.copy() }, icon('copy'));
    this.form = h('form', { class: 'card settings-form', 'aria-labelledby': 'settings-title' },
      h('h1', { id: 'settings-title' }, 'WhatsApp settings'),
      this.statusEl,
      Object.values(this.fields).map((f) => f.row),
      h('div', { class: 'actions' }, this.save, this.test, this.disconnect),
      this.confirm,
      this.message);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.runSave();
    });
    this.el = h('div', { class: 'settings' }, this.form,
      h('section', { class: 'card', 'aria-labelledby': 'webhook-title' },
        h('h2', { id: 'webhook-title' }, 'Webhook'),
        h('p', { class: 'muted' }, 'Paste this callback URL and the verify token into the WhatsApp configuration of your Meta app. Behind your HTTPS reverse proxy its address is the public one.'),
        h('div', { class: 'field' }, h('label', { for: 'webhook_url' }, 'Callback URL'),
          h('div', { class: 'inline' }, this.webhook, copy), this.copied)));
  }

  setStatus(kind, detail) {
    const [label, tone] = STATUS[kind];
    this.statusEl.className = `status-indicator ${tone}`;
    this.statusEl.dataset.status = kind;
    replace(this.statusEl, h('span', { class: 'dot', 'aria-hidden': 'true' }), label, detail ? h('span', { class: 'muted' }, ` — ${detail}`) : null);
    this.disconnect.disabled = kind === 'none';
    this.test.disabled = kind === 'none';
  }

  fill(c) {
    this.config = c;
    for (const [name, f] of Object.entries(this.fields)) {
      if (f.input.type === 'password') {
        f.input.value = '';
        f.input.placeholder = c?.[name] ? `saved (${c[name]})` : '';
      } else {
        f.input.value = c?.[name] ?? '';
      }
    }
    if (!c) this.setStatus('none');
    else if (c.needs_reauth) this.setStatus('reauth', 'Meta rejected the access token: paste a new one');
    else if (!c.is_active) this.setStatus('inactive');
    else this.setStatus('configured');
  }

  async load() {
    replace(this.message);
    try {
      this.fill(await get('/api/whatsapp/config'));
    } catch (err) {
      if (err.status === 404) {
        this.fill(null);
      } else {
        this.setStatus('error');
        replace(this.message, errorBox(`Could not read the config: ${reason(err)}`));
      }
    }
  }

  async runSave() {
    const body = { test: true };
    for (const [name, f] of Object.entries(this.fields)) {
      const v = f.input.value.trim();
      if (v) body[name] = v;
    }
    if (!body.access_token && !this.config?.access_token) {
      replace(this.message, errorBox('An access token is needed.'));
      this.fields.access_token.input.focus();
      return;
    }
    this.save.disabled = true;
    replace(this.message, h('p', { class: 'muted' }, 'Saving and testing with Meta…'));
    try {
      const saved = await post('/api/whatsapp/config', body);
      this.fill(saved);
      if (saved.verified) {
        this.setStatus('connected', [saved.verified.verified_name, saved.verified.display_phone_number].filter(Boolean).join(', '));
      }
      replace(this.message, h('p', { class: 'ok', role: 'status' }, saved.warning ? `Saved. ${saved.warning}` : 'Saved.'));
      this.onChanged();
    } catch (err) {
      this.setStatus(err.code === 'credentials_rejected' ? 'reauth' : 'error');
      replace(this.message, errorBox(`Not saved: ${reason(err)}`));
    } finally {
      this.save.disabled = false;
    }
  }

  async runTest() {
    this.test.disabled = true;
    replace(this.message, h('p', { class: 'muted' }, 'Testing the connection with Meta…'));
    try {
      const r = await post('/api/whatsapp/config/test', {});
      this.setStatus('connected', [r.verified_name, r.display_phone_number].filter(Boolean).join(', '));
      replace(this.message, h('p', { class: 'ok', role: 'status' }, 'The connection works.'));
    } catch (err) {
      this.setStatus(err.code === 'credentials_rejected' ? 'reauth' : 'error');
      replace(this.message, errorBox(`The test failed: ${reason(err)}`));
    } finally {
      this.test.disabled = false;
    }
  }

  askDisconnect() {
    this.confirm.hidden = false;
    const yes = h('button', { type: 'button', class: 'danger', onclick: () => this.runDisconnect() }, 'Yes, disconnect');
    replace(this.confirm,
      h('p', {}, 'Disconnect removes this WhatsApp config and its secrets; messages stay.'),
      yes,
      h('button', { type: 'button', onclick: () => { this.confirm.hidden = true; this.disconnect.focus(); } }, 'Cancel'));
    yes.focus();
  }

  async runDisconnect() {
    this.confirm.hidden = true;
    try {
      await del('/api/whatsapp/config');
      this.fill(null);
      replace(this.message, h('p', { class: 'ok', role: 'status' }, 'Disconnected.'));
      this.onChanged();
    } catch (err) {
      replace(this.message, errorBox(`Could not disconnect: ${reason(err)}`));
    }
  }

  async copy() {
    try {
      await navigator.clipboard.writeText(this.webhook.value);
      this.copied.textContent = 'Copied.';
    } catch {
      this.webhook.select();
      this.copied.textContent = 'Selected: press Ctrl+C to copy.';
    }
  }
}
