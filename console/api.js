// The daemon's REST API as the console uses it: same origin, the session cookie, and the
// CSRF token on every request that changes state.

let csrfToken = null;
let onSignedOut = () => {};

export function setCsrfToken(token) {
  csrfToken = token;
}

// Called when a request answers 401: the session (or its token) is gone.
export function onUnauthorized(fn) {
  onSignedOut = fn;
}

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// Meta's reason when the daemon passed one on, else the daemon's message.
export function reason(err) {
  const meta = err?.body?.error?.meta;
  if (meta && (meta.title || meta.details)) {
    return [meta.title, meta.details].filter(Boolean).join(': ') + (meta.code ? ` (${meta.code})` : '');
  }
  return err.message;
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', `The daemon cannot be reached (${e.message}).`, null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    const err = new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText, data);
    if (res.status === 401 && !path.startsWith('/console/api/session')) onSignedOut();
    throw err;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const del = (path) => api('DELETE', path);
