// Live events over the SSE stream (same origin, so the session cookie goes with it). The
// browser's EventSource resumes with Last-Event-ID by itself after a network drop; when
// the daemon refuses it (a 401, the stream closed for good) it is opened again here, from
// the last id seen, once the session is known to be alive.

const TYPES = [
  'message.received', 'message.sent', 'message.status', 'message.edited', 'message.revoked',
  'message.echoed', 'media.stored', 'unread.changed', 'config.changed', 'contact.merged',
  'template.changed',
];

export class Live {
  constructor({ onEvent, onState, stillSignedIn }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.stillSignedIn = stillSignedIn;
    this.lastId = null;
    this.source = null;
    this.retry = null;
    this.stopped = false;
    this.opened = new Promise((resolve) => {
      this.resolveOpened = resolve;
    });
  }

  start() {
    this.stopped = false;
    const url = '/api/whatsapp/events' + (this.lastId ? `?last_event_id=${encodeURIComponent(this.lastId)}` : '');
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => {
      this.onState('live');
      this.resolveOpened();
    };
    source.onerror = () => {
      if (this.stopped) return;
      this.onState('reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.restart(), 1500);
      }
    };
    for (const type of TYPES) {
      source.addEventListener(type, (e) => {
        if (e.lastEventId) this.lastId = e.lastEventId;
        let event;
        try {
          event = JSON.parse(e.data);
        } catch {
          return;
        }
        this.onEvent(event);
      });
    }
  }

  async restart() {
    if (this.stopped) return;
    if (!(await this.stillSignedIn())) return;
    this.source?.close();
    this.start();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    this.source?.close();
    this.source = null;
  }
}
