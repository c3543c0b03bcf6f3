// The guard's overview: open alarms on top (acknowledge, close), health in words, last events.
import { get, me, post } from "./api/client.js";
import { load, t, toggle, word } from "./i18n/i18n.js";
import { alarmHistory, fillFilters, findEvents } from "./history.js";
import { staff } from "./staff.js";
import { alarmText } from "./alarm_text.js";
import { play } from "./webrtc/player.js";
import { el, nameOf, setSite, turn, when } from "./site.js";
import { events, live } from "./feed.js";
import { gates, pending } from "./gates.js";

// Health in words a guard understands: cameras and devices working, each uplink (the hub,
// the police network) connected or not since when with its backlog; the technical problems
// themselves are on the staff view.
async function health() {
  const stale = turn("health");
  const [doc, cams] = await Promise.all([get("/api/health"), get("/api/cameras")]);
  if (stale()) return;
  document.getElementById("site").textContent = doc.site.name;
  const s = document.getElementById("status");
  s.textContent = word("status", doc.status);
  s.className = `status ${doc.status}`;
  const items = [];
  const offCams = cams.cameras.filter((c) => !c.online);
  if (cams.cameras.length) {
    items.push(el("li", offCams.length ? "bad" : "good", t("health.cameras", {
      up: cams.cameras.length - offCams.length, n: cams.cameras.length,
    })));
    for (const c of offCams) items.push(el("li", "bad", t("health.camera_down", { name: c.name })));
  }
  const devices = doc.devices || [];
  const offDevs = devices.filter((d) => d.available === false);
  if (devices.length) {
    items.push(el("li", offDevs.length ? "bad" : "good", t("health.devices", {
      up: devices.length - offDevs.length, n: devices.length,
    })));
    for (const d of offDevs) items.push(el("li", "bad", t("health.device_down", { name: nameOf(d.device) })));
  }
  for (const [key, u] of Object.entries(doc)) {
    if (!key.startsWith("uplink.") || !u || !u.type) continue;
    const up = u.state === "connected";
    const vars = {
      name: word("uplink", u.type), state: word("link_state", u.state),
      since: u.since ? when(u.since * 1000) : "", n: u.backlog ?? 0,
    };
    const cls = up ? "good" : u.state === "off" ? "" : "bad"; // off: no address configured yet
    items.push(el("li", cls, t(u.since ? "health.uplink_since" : "health.uplink", vars)));
  }
  if (doc.status !== "ok") items.push(el("li", "bad", t("health.call_staff")));
  else if (!items.length) items.push(el("li", "good", t("health.all_ok")));
  document.getElementById("health").replaceChildren(...items);
}

let unacked = 0;

async function alarms() {
  // Active or cleared-by-itself alarms a guard has not dealt with, newest first.
  const stale = turn("alarms");
  const doc = await get("/api/alarms?open=1");
  if (stale()) return;
  const ul = document.getElementById("alarms");
  // The list is redrawn on every alarm event and every refresh: a note the guard is typing
  // (and where the cursor is) carries over to the redrawn row, else it would be wiped
  // between typing it and pressing acknowledge.
  const notes = new Map();
  for (const input of ul.querySelectorAll("li[data-id] input.note")) {
    notes.set(input.closest("li").dataset.id, input);
  }
  const typing = document.activeElement;
  let refocus = null;
  ul.replaceChildren();
  unacked = doc.alarms.filter((a) => !a.acked).length;
  document.getElementById("alarms-box").classList.toggle("ringing", unacked > 0);
  if (!doc.alarms.length) ul.append(el("li", "good", t("alarms.none")));
  for (const a of doc.alarms) {
    const li = el("li", `alarm ${a.severity} ${a.status}`);
    li.dataset.id = a.id;
    const head = el("div", "line");
    head.append(el("b", "", word("severity", a.severity)), " ", alarmText(a, nameOf), " ");
    head.append(el("small", "", `${word("alarm_status", a.status)} · ${when(a.raised_ms)}`));
    li.append(head);
    const acts = el("div", "acts");
    const note = el("input", "note");
    note.placeholder = t("alarms.note");
    note.maxLength = 200;
    const before = notes.get(a.id);
    if (before) note.value = before.value;
    if (before && before === typing) refocus = [note, before.selectionStart, before.selectionEnd];
    acts.append(note);
    if (!a.acked) {
      const b = el("button", "ack", t("alarms.ack"));
      b.addEventListener("click", async () => {
        const r = await post(`/api/alarms/${encodeURIComponent(a.id)}/ack`, { note: note.value });
        if (r.status === 200) note.value = ""; // said: not carried into the next action
        alarms();
      });
      acts.append(b);
    }
    if (a.active) {
      const c = el("button", "close", t("alarms.close"));
      c.addEventListener("click", async () => {
        const r = await post(`/api/alarms/${encodeURIComponent(a.id)}/close`, { note: note.value });
        if (r.status === 200) note.value = ""; // said: not carried into the next action
        alarms();
      });
      acts.append(c);
    }
    li.append(acts);
    ul.append(li);
  }
  if (refocus) {
    const [input, from, to] = refocus;
    input.focus();
    input.setSelectionRange(from, to);
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
  const stale = turn("meters");
  const doc = await get("/api/meters");
  if (stale()) return;
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

// Each refresh keeps the tiles it has (by camera id) and only updates their state and
// label: rebuilt tiles started blank until their new still loaded, a flicker every 4 s.
async function cameras() {
  const stale = turn("cameras");
  const doc = await get("/api/cameras");
  if (stale()) return;
  cameraList = doc.cameras;
  const box = document.getElementById("cameras");
  if (!doc.cameras.length) {
    box.replaceChildren(el("p", "", t("cameras.none")));
    return;
  }
  const kept = new Map([...box.querySelectorAll(".tile")].map((x) => [x.dataset.camera, x]));
  const tiles = doc.cameras.map((cam) => {
    const tile = kept.get(cam.id) || newTile(cam.id);
    tile.className = `tile ${cam.online ? "online" : "offline"}`;
    tile.querySelector("span").textContent = `${cam.name} · ${word("online", String(cam.online))}`;
    return tile;
  });
  box.replaceChildren(...tiles);
  stills();
}

function newTile(id) {
  const tile = el("button", "tile");
  tile.type = "button";
  tile.dataset.camera = id;
  const img = el("img", "none");
  img.alt = "";
  img.addEventListener("load", () => img.classList.remove("none"));
  img.addEventListener("error", () => img.classList.add("none"));
  tile.append(img, el("span", ""));
  tile.addEventListener("click", () => {
    const cam = cameraList.find((c) => c.id === id);
    if (cam) openViewer(cam);
  });
  return tile;
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
    findEvents();
    alarmHistory();
  }
  if (view === "staff") staff();
}

for (const b of document.querySelectorAll("#nav button")) {
  b.addEventListener("click", () => show(b.dataset.view));
}
document.getElementById("event-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  findEvents();
});
document.getElementById("f-status").addEventListener("change", () => alarmHistory());

async function refresh() {
  await Promise.all([health(), alarms(), meters(), pending()]);
}

await load();
const who = await me();
if (who) {
  setSite(await get("/api/names"));
  const whoLine = () => {
    document.getElementById("who").textContent = `${who.display_name} · ${word("role", who.role)}`;
  };
  whoLine();
  if (who.role !== "guard") for (const b of document.querySelectorAll(".staff-only")) b.hidden = false;
  document.getElementById("lang").addEventListener("click", async () => {
    await toggle();
    whoLine();
    cameras();
    refresh();
    gates();
    pending(true);
    events(true);
    fillFilters(cameraList);
    show(document.querySelector("#nav button.on")?.dataset.view || "overview"); // redrawn in the new language
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await post("/api/auth/logout");
    location.assign("/login");
  });
  // Enabled only now: a click before its handler is attached would do nothing.
  document.getElementById("lang").disabled = false;
  document.getElementById("logout").disabled = false;
  const tick = () => {
    document.getElementById("clock").textContent = when(Date.now());
  };
  setInterval(tick, 1000);
  // The overview first, before the first loads: a view picked meanwhile is not taken back.
  show("overview");
  // A pass put to the guard, answered or expired elsewhere: the waiting list follows.
  live({ alarm: () => alarms(), access: (e) => e.data.pending_id && pending() });
  await Promise.all([refresh(), events(), cameras(), gates()]);
  fillFilters(cameraList);
  setInterval(cameras, STILL_EVERY_MS); // online state and a fresh still
  tick();
  setInterval(refresh, 5000);
  setInterval(chime, 4000);
}
