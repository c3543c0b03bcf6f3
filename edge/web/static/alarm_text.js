// What an alarm says, in the page's language. Alarms the daemon raises itself (access
// control, storage, uplinks) carry an English message for the logs and the hub; the page
// says them from the catalogue with the alarm's data, found by the key's prefix. Alarms from
// the installer's rules (thresholds, scene rules) carry the message the config gave them.
import { t, word } from "./i18n/i18n.js";

// A scene rule's alarm (key scene:<camera>:<rule>): the rule's type picks the text.
function scene(a, name) {
  const d = a.data;
  return {
    zone: d.zone,
    camera: name(a.source || d.camera),
    object: word("object", d.label),
    plate: d.plate ? ` ${d.plate}` : "",
    min: (Number(d.dwell_s) / 60).toFixed(1),
    s: Math.round(Number(d.dwell_s)),
  };
}

const KNOWN = [
  ["access:blacklist:", "blacklist", (a, name) => ({ plate: a.data.plate, gate: name(a.data.gate) })],
  ["access:near_blacklist:", "near_blacklist", (a, name) => ({ plate: a.data.plate, gate: name(a.data.gate) })],
  ["access:gate_not_opening:", "gate_not_opening", (a, name) => ({ gate: name(a.data.gate) })],
  ["access:fire_mode", "fire_mode", (a) => ({ n: (a.data.gates || []).length })],
  ["parking:overstay:", "overstay", (a, name) => ({ vehicle: a.data.vehicle, car_park: name(a.data.car_park) })],
  ["watchlist:", "watchlist", (a, name) => ({ who: a.data.name || a.data.person_id, camera: name(a.source) })],
  ["storage.disk_low", "disk_low", () => ({})],
  ["storage.hard_cap", "hard_cap", (a) => ({ n: a.data.owed_pruned })],
  ["gat1400:", "clock", (a) => ({ s: Number(a.data.offset_s).toFixed(1) })],
  ["scene:", (a) => `scene_${a.data.type}`, scene],
];
const SCENE_TYPES = ["ebike_in_lift", "fire_lane", "loitering", "falling_object"];

// `a`: {key, data, message, source} of an alarm row or an alarm event's data.
export function alarmText(a, name) {
  const found = KNOWN.find(([prefix]) => String(a.key || "").startsWith(prefix));
  if (!found || !a.data) return a.message || "";
  if (typeof found[1] === "function" && !SCENE_TYPES.includes(a.data.type)) return a.message || "";
  const key = typeof found[1] === "function" ? found[1](a) : found[1];
  return t(`alarm_text.${key}`, found[2](a, name));
}
