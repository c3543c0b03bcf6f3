// The JSON API: the session cookie goes by itself; state changes carry the CSRF token.
let csrf = null;

export async function me() {
  const r = await fetch("/api/auth/me");
  if (r.status === 401) {
    location.assign("/login");
    return null;
  }
  const doc = await r.json();
  csrf = doc.csrf;
  return doc;
}

export async function get(path) {
  const r = await fetch(path);
  if (r.status === 401) location.assign("/login");
  return r.json();
}

export async function post(path, body = {}) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  return { status: r.status, doc: await r.json() };
}
