// The guard's overview: open alarms on top (acknowledge, close), health in words, last events.
import { get, me, post } from "./api/client.js";
import { load, t, toggle, word } from "./i18n/i18n.js";
import { alarmHistory, fillFilters, findEvents, staff } from "./history.js";
import { play } from "./webrtc/player.js";

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

let unacked = 0;

async function alarms() {
  // Active or cleared-by-itself alarms a guard has not dealt with, newest first.
  const doc = await get("/api/alarms?open=1");
  const ul = document.getElementById("alarms");
  ul.replaceChildren();
  unacked = doc.alarms.filter((a) => !a.acked).length;
  document.getElementById("alarms-box").classList.toggle("ringing", unacked > 0);
  if (!doc.alarms.length) ul.append(el("li", "good", t("alarms.none")));
  for (const a of doc.alarms) {
    const li = el("li", `alarm ${a.severity} ${a.status}`);
    li.dataset.id = a.id;
    const head = el("div", "line");
    head.append(el("b", "", word("severity", a.severity)), " ", a.message, " ");
    head.append(el("small", "", `${word("alarm_status", a.status)} · ${when(a.raised_ms)}`));
    li.append(head);
    const acts = el("div", "acts");
    const note = el("input", "note");
    note.placeholder = t("alarms.note");
    note.maxLength = 200;
    acts.append(note);
    if (!a.acked) {
      const b = el("button", "ack", t("alarms.ack"));
      b.addEventListener("click", async () => {
        await post(`/api/alarms/${encodeURIComponent(a.id)}/ack`, { note: note.value });
        alarms();
      });
      acts.append(b);
    }
    if (a.active) {
      const c = el("button", "close", t("alarms.close"));
      c.addEventListener("click", async () => {
        await post(`/api/alarms/${encodeURIComponent(a.id)}/close`, { note: note.value });
        alarms();
      });
      acts.append(c);
    }
    li.append(acts);
    ul.append(li);
  }
}

// A chime every few seconds while any alarm is unacknowledged (WebAudio: no sound file).
let audio = null;
function chime() {
  if (!unacked) return;
  audio = audio || new AudioContext();
  if (audio.state === "suspended") return; // resumed by the guard's next click
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.6);
}
document.addEventListener("click", () => audio && audio.resume());

const MAX_EVENTS = 30;
// What a guard follows live; meter readings and device state have their own sections.
const LIVE_KINDS = ["plate", "face", "access", "alarm"];
let names = { devices: {}, cameras: {} };

function nameOf(id) {
  return names.cameras[id] || names.devices[id] || id;
}

function eventItem(e) {
  const li = el("li", `event ${e.kind}`);
  li.dataset.id = e.id;
  li.append(el("time", "", when(e.ts_ms)), " ", el("b", "", word("kind", e.kind)), " ");
  li.append(e.data.plate || e.data.message || nameOf(e.source));
  if (e.data.plate) li.append(" ", el("small", "", nameOf(e.data.camera || e.source)));
  if (e.kind === "alarm") li.append(" ", el("small", "", word("alarm_state", e.data.state)));
  if (e.kind === "access" && e.data.decision) {
    li.append(" ", el("small", "", word("decision", e.data.decision)));
  }
  return li;
}

async function events() {
  const docs = await Promise.all(LIVE_KINDS.map((k) => get(`/api/events?limit=20&kind=${k}`)));
  const all = docs.flatMap((d) => d.events).sort((a, b) => b.ts_ms - a.ts_ms).slice(0, 20);
  const ul = document.getElementById("events");
  ul.replaceChildren(...all.map(eventItem));
}

function live() {
  // New events arrive over the WebSocket; after a gap (or a reconnect) the list is reloaded.
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/live`);
  ws.addEventListener("message", (msg) => {
    const doc = JSON.parse(msg.data);
    if (doc.gap) events();
    // A pass put to the guard, answered or expired elsewhere: the waiting list follows.
    if (doc.event.kind === "access" && doc.event.data.pending_id) pending();
    if (!LIVE_KINDS.includes(doc.event.kind)) return;
    const ul = document.getElementById("events");
    if (ul.querySelector(`[data-id="${doc.event.id}"]`)) return;
    ul.prepend(eventItem(doc.event));
    while (ul.children.length > MAX_EVENTS) ul.lastChild.remove();
    if (doc.event.kind === "alarm") alarms();
  });
  ws.addEventListener("close", () => setTimeout(() => { events(); live(); }, 2000));
}

// Gates: open with a reason (audited with the logged-in guard); pending approvals if the
// access control offers them.
async function gates() {
  const doc = await get("/api/gates");
  const ul = document.getElementById("gates");
  ul.replaceChildren();
  if (!doc.gates.length) ul.append(el("li", "", t("gates.none")));
  for (const g of doc.gates) {
    const li = el("li", "gate");
    li.dataset.gate = g.id;
    const state = g.available === false ? t("gates.offline") : "";
    li.append(el("div", "line", `${g.name} ${state}`));
    const acts = el("div", "acts");
    const reason = el("input", "reason");
    reason.placeholder = t("gates.reason");
    reason.maxLength = 200;
    const b = el("button", "open", t("gates.open"));
    const msg = el("small", "msg");
    b.addEventListener("click", async () => {
      if (!reason.value.trim()) {
        msg.textContent = t("gates.need_reason");
        return;
      }
      const r = await post(`/api/gates/${encodeURIComponent(g.id)}/open`, { reason: reason.value });
      msg.textContent = r.status === 200 ? t("gates.opened") : t("gates.failed");
      if (r.status === 200) reason.value = "";
    });
    acts.append(reason, b, msg);
    li.append(acts);
    ul.append(li);
  }
  await pending();
}

async function pending() {
  const r = await fetch("/api/access/pending");
  const ul = document.getElementById("pending");
  ul.replaceChildren();
  if (!r.ok) return; // no access control on this gateway
  const access = await fetch("/api/access");
  if (access.ok) {
    const fire = (await access.json()).fire_mode || {};
    const li = el("li", fire.on ? "bad" : "good", fire.on ? t("gates.fire_on") : t("gates.fire_off"));
    ul.append(li);
  }
  const doc = await r.json();
  for (const p of doc.pending || []) {
    const li = el("li", "pending");
    li.append(el("b", "", t("gates.ask")), " ", p.plate || p.person || p.key || p.id, " ");
    if (p.gate) li.append(el("small", "", p.gate));
    for (const action of ["approve", "deny"]) {
      const b = el("button", action, t(`gates.${action}`));
      b.addEventListener("click", async () => {
        await post(`/api/access/pending/${encodeURIComponent(p.id)}/${action}`, { reason: "" });
        pending();
      });
      li.append(b);
    }
    ul.append(li);
  }
}

// Meters and sensors: latest value with unit, threshold state, the last day as a sparkline.
const SVG = "http://www.w3.org/2000/svg";

function sparkline(values) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("class", "spark");
  if (values.length < 2) return svg;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || 1;
  const pts = values.map((v, i) => `${(i / (values.length - 1)) * 100},${19 - ((v - lo) / span) * 18}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.append(line);
  return svg;
}

async function meters() {
  const doc = await get("/api/meters");
  const ul = document.getElementById("meters");
  ul.replaceChildren();
  if (!doc.meters.length) ul.append(el("li", "", t("meters.none")));
  for (const m of doc.meters) {
    for (const p of m.points) {
      const li = el("li", `meter ${p.alarm ? "bad" : ""}`);
      const value = typeof p.value === "number" ? p.value.toLocaleString()
        : word("value", String(p.value));
      li.append(el("span", "mname", `${m.name} · ${word("point", p.point)}`));
      li.append(el("b", "mval", `${value} ${p.unit || ""}`));
      li.append(el("small", "", p.rules.length ? word("threshold", String(p.alarm)) : ""));
      li.append(sparkline(p.spark));
      ul.append(li);
    }
  }
}

// Camera tiles: a still refreshed every few seconds; a click opens live video.
const STILL_EVERY_MS = 4000;
let stopViewer = null;

let cameraList = [];

async function cameras() {
  const doc = await get("/api/cameras");
  cameraList = doc.cameras;
  const box = document.getElementById("cameras");
  box.replaceChildren();
  if (!doc.cameras.length) box.append(el("p", "", t("cameras.none")));
  for (const cam of doc.cameras) {
    const tile = el("button", `tile ${cam.online ? "online" : "offline"}`);
    tile.type = "button";
    tile.dataset.camera = cam.id;
    const img = el("img", "none");
    img.alt = "";
    img.addEventListener("load", () => img.classList.remove("none"));
    img.addEventListener("error", () => img.classList.add("none"));
    tile.append(img, el("span", "", `${cam.name} · ${word("online", String(cam.online))}`));
    tile.addEventListener("click", () => openViewer(cam));
    box.append(tile);
  }
  stills();
}

function stills() {
  for (const img of document.querySelectorAll("#cameras .tile img")) {
    const id = img.parentElement.dataset.camera;
    img.src = `/api/cameras/${encodeURIComponent(id)}/still.jpg?t=${Date.now()}`;
  }
}

async function openViewer(cam) {
  if (stopViewer) stopViewer();
  document.getElementById("viewer-name").textContent = cam.name;
  document.getElementById("viewer").hidden = false;
  const video = document.getElementById("viewer-video");
  const img = document.getElementById("viewer-still");
  stopViewer = await play(video, img, cam.id);
}

document.getElementById("viewer-close").addEventListener("click", () => {
  if (stopViewer) stopViewer();
  stopViewer = null;
  document.getElementById("viewer").hidden = true;
});

// Views: the guard's overview, the history (events, alarms), the staff view (installers and
// maintainers only; the API refuses it to guards anyway).
function show(view) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${view}`;
  for (const b of document.querySelectorAll("#nav button")) b.classList.toggle("on", b.dataset.view === view);
  if (view === "history") {
    findEvents(when);
    alarmHistory(when);
  }
  if (view === "staff") staff();
}

for (const b of document.querySelectorAll("#nav button")) {
  b.addEventListener("click", () => show(b.dataset.view));
}
document.getElementById("event-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  findEvents(when);
});
document.getElementById("f-status").addEventListener("change", () => alarmHistory(when));

async function refresh() {
  await Promise.all([health(), alarms(), meters()]);
}

await load();
const who = await me();
if (who) {
  names = await get("/api/names");
  document.getElementById("who").textContent = `${who.display_name} · ${word("role", who.role)}`;
  if (who.role !== "guard") for (const b of document.querySelectorAll(".staff-only")) b.hidden = false;
  document.getElementById("lang").addEventListener("click", async () => {
    await toggle();
    refresh();
    events();
    fillFilters(cameraList);
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await post("/api/auth/logout");
    location.assign("/login");
  });
  const tick = () => {
    document.getElementById("clock").textContent = when(Date.now());
  };
  setInterval(tick, 1000);
  await Promise.all([refresh(), events(), cameras(), gates()]);
  fillFilters(cameraList);
  show("overview");
  setInterval(cameras, STILL_EVERY_MS); // online state and a fresh still
  tick();
  live();
  setInterval(refresh, 5000);
  setInterval(chime, 4000);
}
