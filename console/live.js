// Live events over the SSE stream (same origin, so the session cookie goes with it). The
// browser's EventSource resumes with Last-Event-ID by itself after a network drop (the
// daemon names the stream's position in its first block, so even before any event); when
// the daemon refuses it (a 401, the stream closed for good) it is opened again here, from
// the last id seen, once the session is known to be alive. Opened again without one (no
// event had come), the page reloads what it shows instead (onResync).

const TYPES = [
  'message.received', 'message.sent', 'message.status', 'message.edited', 'message.revoked',
  'message.echoed', 'media.stored', 'unread.changed', 'config.changed', 'contact.merged',
  'template.changed',
];

export class Live {
  constructor({ onEvent, onState, stillSignedIn, onResync }) {
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.everOpened = false;
    this.onState = onState;
    this.stillSignedIn = stillSignedIn;
    this.lastId = null;
    this.source = null;
    this.retry = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    const url = '/api/whatsapp/events' + (this.lastId ? `?last_event_id=${encodeURIComponent(this.lastId)}` : '');
    const source = new EventSource(url);
    this.source = source;
    const resync = this.everOpened && !this.lastId;
    source.onopen = () => {
      this.everOpened = true;
      this.onState('live');
      if (resync) this.onResync();
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
