// The installers' and maintainers' view: upload queues, background tasks, the models (file
// intact, what they are used for, latest timings) and the config file's check result.
// Guards never see it; the API refuses its routes to them anyway.
import { get } from "./api/client.js";
import { t, word } from "./i18n/i18n.js";
import { el, turn } from "./site.js";

const FILE_OK = "ok";

async function queues() {
  const stale = turn("queues");
  const q = await get("/api/queue");
  if (stale()) return;
  const ul = document.getElementById("queues");
  ul.replaceChildren();
  if (!q.destinations.length) ul.append(el("li", "", t("staff.no_queues")));
  for (const d of q.destinations) {
    ul.append(el("li", "", `${d.dest} · ${t("staff.backlog", { n: d.backlog })}`));
  }
}

async function tasks() {
  const stale = turn("tasks");
  const h = await get("/api/health");
  if (stale()) return;
  document.getElementById("tasks").replaceChildren(
    ...(h.problems || []).map((p) => el("li", "bad problem", p)), // the daemon's own sentences
    ...(h.tasks || []).map((x) => el("li", x.state === "running" ? "" : "bad", `${x.name} · ${word("task_state", x.state)}`)),
  );
}

function modelItem(m) {
  const li = el("li", `model ${m.file_state === FILE_OK ? "" : "bad"}`);
  li.dataset.model = m.name;
  const head = el("div", "line");
  head.append(el("b", "", m.role ? word("model_role", m.role) : t("staff.model_spare")), " ");
  head.append(el("code", "", m.name));
  li.append(head);
  const facts = [word("file_state", m.file_state)];
  if (m.role) facts.push(m.in_use ? t("staff.model_in_use") : t("staff.model_unused"));
  if (m.loaded) facts.push(t("staff.model_loaded", { s: m.load_s }));
  li.append(el("div", `state ${m.file_state}`, facts.join(" · ")));
  for (const c of m.cameras) {
    li.append(el("small", "timing", t("staff.model_timing", { camera: c.name, ms: c.last_analysis_ms })));
  }
  return li;
}

async function models() {
  const stale = turn("models");
  const doc = await get("/api/installer/models");
  if (stale()) return;
  const ul = document.getElementById("models");
  ul.replaceChildren();
  ul.append(el("li", "", t("staff.models_dir", { dir: doc.models_dir })));
  if (doc.manifest_error) {
    ul.append(el("li", "bad", t("staff.manifest_error", { error: doc.manifest_error })));
  }
  ul.append(...doc.models.map(modelItem));
}

async function config() {
  const stale = turn("config");
  const doc = await get("/api/installer/config");
  if (stale()) return;
  const ul = document.getElementById("config-check");
  ul.replaceChildren();
  if (!doc.checked) {
    ul.append(el("li", "", t("staff.config_unchecked")));
  } else if (doc.ok) {
    ul.append(el("li", "good", t("staff.config_ok", { path: doc.path })));
  } else {
    ul.append(el("li", "bad", t("staff.config_bad", { path: doc.path, n: doc.problems.length })));
  }
  const version = doc.file_version === null ? t("staff.config_version_unknown") : String(doc.file_version);
  ul.append(el("li", "", t("staff.config_version", {
    file: version, running: doc.running_version, supported: doc.supported_version,
  })));
  if (doc.restart_needed) ul.append(el("li", "warn", t("staff.config_restart")));
  for (const p of doc.problems) {
    const li = el("li", "problem");
    li.append(el("code", "", `${p.file}:${p.line}:${p.column}`), " ");
    li.append(el("b", "", p.key || t("staff.config_top")), " ", p.message);
    ul.append(li);
  }
}

export async function staff() {
  await Promise.all([queues(), tasks(), models(), config()]);
}
