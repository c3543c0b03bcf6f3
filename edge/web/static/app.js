// The guard's overview: open alarms on top (acknowledge, close), health in words, last events.
import { get, me, post } from "./api/client.js";
import { load, t, toggle, word } from "./i18n/i18n.js";

let tz = "+08:00";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function when(ms) {
  // Local date and time in the site's zone (utc_offset from the health document).
  const sign = tz.startsWith("-") ? -1 : 1;
  const [h, m] = tz.slice(1).split(":").map(Number);
  const d = new Date(ms + sign * (h * 60 + m) * 60000);
  return d.toISOString().slice(0, 19).replace("T", " ");
}

async function health() {
  const doc = await get("/api/health");
  document.getElementById("site").textContent = doc.site.name;
  tz = doc.site.utc_offset || tz;
  const s = document.getElementById("status");
  s.textContent = word("status", doc.status);
  s.className = `status ${doc.status}`;
  const ul = document.getElementById("health");
  ul.replaceChildren();
  for (const p of doc.problems || []) ul.append(el("li", "bad", p));
  if (!(doc.problems || []).length) ul.append(el("li", "good", t("health.all_ok")));
}

async function alarms() {
  const doc = await get("/api/alarms");
  const ul = document.getElementById("alarms");
  ul.replaceChildren();
  const open = doc.alarms.filter((a) => a.state !== "closed");
  if (!open.length) ul.append(el("li", "good", t("alarms.none")));
  for (const a of open) {
    const li = el("li", `alarm ${a.severity}`);
    li.append(el("b", "", word("severity", a.severity)), " ", a.message, " ");
    li.append(el("small", "", word("alarm_state", a.state)));
    if (a.state !== "acknowledged") {
      const b = el("button", "", t("alarms.ack"));
      b.addEventListener("click", async () => {
        await post(`/api/alarms/${encodeURIComponent(a.id)}/ack`, { note: "" });
        alarms();
      });
      li.append(b);
    }
    const c = el("button", "", t("alarms.close"));
    c.addEventListener("click", async () => {
      await post(`/api/alarms/${encodeURIComponent(a.id)}/close`, { note: "" });
      alarms();
    });
    li.append(c);
    ul.append(li);
  }
}

const MAX_EVENTS = 30;

function eventItem(e) {
  const li = el("li", `event ${e.kind}`);
  li.dataset.id = e.id;
  li.append(el("time", "", when(e.ts_ms)), " ", el("b", "", word("kind", e.kind)), " ");
  li.append(e.data.plate || e.data.message || e.source);
  return li;
}

async function events() {
  const doc = await get("/api/events?limit=20");
  const ul = document.getElementById("events");
  ul.replaceChildren(...doc.events.map(eventItem));
}

function live() {
  // New events arrive over the WebSocket; after a gap (or a reconnect) the list is reloaded.
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/live`);
  ws.addEventListener("message", (msg) => {
    const doc = JSON.parse(msg.data);
    if (doc.gap) events();
    const ul = document.getElementById("events");
    if (ul.querySelector(`[data-id="${doc.event.id}"]`)) return;
    ul.prepend(eventItem(doc.event));
    while (ul.children.length > MAX_EVENTS) ul.lastChild.remove();
    if (doc.event.kind === "alarm") alarms();
  });
  ws.addEventListener("close", () => setTimeout(() => { events(); live(); }, 2000));
}

async function refresh() {
  await Promise.all([health(), alarms()]);
}

await load();
const who = await me();
if (who) {
  document.getElementById("who").textContent = `${who.display_name} · ${word("role", who.role)}`;
  document.getElementById("lang").addEventListener("click", async () => {
    await toggle();
    refresh();
    events();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await post("/api/auth/logout");
    location.assign("/login");
  });
  const tick = () => {
    document.getElementById("clock").textContent = when(Date.now());
  };
  setInterval(tick, 1000);
  await Promise.all([refresh(), events()]);
  tick();
  live();
  setInterval(refresh, 5000);
}
