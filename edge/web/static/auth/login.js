// The login form: posts the credentials, then goes to the console.
// The submit button stays disabled until the handler is attached: a click before that would
// submit the form natively and never reach the API.
import { load, t, toggle } from "../i18n/i18n.js";

const form = document.getElementById("login");
const error = document.getElementById("error");
document.getElementById("lang").addEventListener("click", () => toggle());
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  const body = { user: form.user.value, password: form.password.value };
  const r = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (r.ok) {
    location.assign("/");
  } else if (r.status === 429) {
    const doc = await r.json();
    error.textContent = t("login.rate_limited", { s: doc.retry_after_s });
  } else {
    error.textContent = t("login.wrong");
  }
});
document.getElementById("submit").disabled = false;
await load();
