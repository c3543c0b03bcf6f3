// What every view shares: making elements, the site's local time and names from config.
let tz = "+08:00";
let names = { devices: {}, cameras: {}, gates: {}, car_parks: {} };

const calls = new Map();

// Loaders are called by the refresh timer, live events and the guard's own actions, so
// their calls overlap. `turn(name)` numbers a call; the check it returns says a newer call
// of that loader started since, whose answer is drawn instead: an older answer arriving
// last would bring back a state already gone (an alarm just acknowledged, for 5 s).
export function turn(name) {
  const mine = (calls.get(name) || 0) + 1;
  calls.set(name, mine);
  return () => calls.get(name) !== mine;
}

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// The answer of /api/names: names from the config and the site's UTC offset.
export function setSite(doc) {
  names = doc;
  tz = doc.site.utc_offset;
}

export function when(ms) {
  // Local date and time in the site's zone (site.utc_offset), whatever the browser's zone.
  const sign = tz.startsWith("-") ? -1 : 1;
  const [h, m] = tz.slice(1).split(":").map(Number);
  const d = new Date(ms + sign * (h * 60 + m) * 60000);
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export function nameOf(id) {
  // Event sources are "camera.<id>" or "gate.<id>" for what the daemon made itself.
  const bare = String(id).replace(/^(camera|gate)\./, "");
  return names.cameras[bare] || names.gates[bare] || names.devices[bare] || names.devices[id]
    || names.car_parks[bare] || bare;
}
