// Sign in, register, forgot and reset password, confirm the email address.
import { call, session, showError, showNotice } from "../api.js";
import { h, field } from "../dom.js";

function nextPath(ctx) {
  const next = ctx.query.get("next") || "";
  return next.startsWith("/app/") ? next : "/app/projects";
}

function keepNext(ctx, path) {
  const next = ctx.query.get("next");
  return next ? `${path}?next=${encodeURIComponent(next)}` : path;
}

function busy(form, on) {
  for (const el of form.querySelectorAll("button, input")) el.disabled = on;
  form.setAttribute("aria-busy", String(on));
}

// A form whose submit runs `action` while the form is busy; an API error is shown in
// `messages` and the form is usable again. `action` returns true to stay on the page (else it
// has navigated away and the form stays disabled).
function authForm(messages, submitLabel, action, ...fields) {
  const form = h("form", {
    class: "stack",
    async onsubmit(e) {
      e.preventDefault();
      busy(form, true);
      try {
        if (await action()) busy(form, false);
      } catch (error) {
        busy(form, false);
        showError(messages, error);
      }
    },
  }, ...fields, h("button", { type: "submit", class: "button primary" }, submitLabel));
  return form;
}

function card(title, ...content) {
  document.title = `${title} · Windback`;
  return h("section", { class: "card auth-card" }, h("h1", {}, title), ...content);
}

export async function signIn(main, ctx) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  if (ctx.query.get("expired")) showNotice(messages, "Your session ended. Please sign in again.");
  if (ctx.query.get("reset")) showNotice(messages, "Your password was changed. Sign in with the new one.");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const form = authForm(messages, "Sign in", async () => {
    const { data } = await call("POST", "/auth/login", { body: { email: email.value, password: password.value }, auth: false });
    session.token = data.token;
    ctx.navigate(nextPath(ctx), { replace: true });
  }, field("Email", email), field("Password", password));
  main.append(card("Sign in", messages, form,
    h("p", { class: "links" }, h("a", { href: "/app/forgot-password" }, "Forgot your password?")),
    h("p", { class: "links" }, "New here? ", h("a", { href: keepNext(ctx, "/app/register") }, "Create an account"))));
}

export async function register(main, ctx) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const name = h("input", { type: "text", name: "name", autocomplete: "name" });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true });
  const form = authForm(messages, "Create account", async () => {
    const body = { email: email.value, password: password.value };
    if (name.value.trim()) body.name = name.value.trim();
    const { data } = await call("POST", "/auth/register", { body, auth: false });
    session.token = data.token;
    ctx.navigate(nextPath(ctx), { replace: true });
  }, field("Name", name), field("Email", email), field("Password", password, "At least 8 characters."));
  main.append(card("Create your account", messages, form,
    h("p", { class: "links" }, "Already have an account? ", h("a", { href: keepNext(ctx, "/app/sign-in") }, "Sign in"))));
}

export async function forgotPassword(main) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const form = authForm(messages, "Send reset link", async () => {
    await call("POST", "/auth/forgot-password", { body: { email: email.value }, auth: false });
    showNotice(messages, "If an account uses this address, we sent it a link to reset the password. It is valid for one hour.");
    return true;
  }, field("Email", email));
  main.append(card("Reset your password", h("p", {}, "We will email you a link to choose a new password."), messages, form,
    h("p", { class: "links" }, h("a", { href: "/app/sign-in" }, "Back to sign in"))));
}

export async function resetPassword(main, ctx) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const token = ctx.query.get("token") || "";
  if (!token) {
    main.append(card("Choose a new password",
      h("div", { class: "banner error", role: "alert" }, "This link has no reset token. Use the link from the email, or ask for a new one."),
      h("p", {}, h("a", { href: "/app/forgot-password" }, "Ask for a new link"))));
    return;
  }
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true });
  const form = authForm(messages, "Set password", async () => {
    await call("POST", "/auth/reset-password", { body: { token, password: password.value }, auth: false });
    session.signOut();
    ctx.navigate("/app/sign-in?reset=1", { replace: true });
  }, field("New password", password, "At least 8 characters."));
  main.append(card("Choose a new password", messages, form));
}

// The link of the email sent at registration. Confirmed by a click, not on load: a mail scanner
// that opens links must not confirm an account someone else registered with this address.
export async function verifyEmail(main, ctx) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const token = ctx.query.get("token") || "";
  if (!token) {
    main.append(card("Confirm your email address",
      h("div", { class: "banner error", role: "alert" }, "This link has no verification token. Use the link from the email.")));
    return;
  }
  const form = authForm(messages, "Confirm my address", async () => {
    await call("POST", "/auth/verify-email", { body: { token }, auth: false });
    form.replaceWith(h("p", { class: "links" }, h("a", { href: "/app/projects" }, "Continue to Windback")));
    showNotice(messages, "Your email address is confirmed.");
    return true;
  });
  main.append(card("Confirm your email address", messages, form));
}
