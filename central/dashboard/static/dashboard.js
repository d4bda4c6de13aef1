/* egate officer dashboard: helpers shared by every page. Own work, Apache-2.0.
   No framework, no network fetch other than the central service's own API. */
"use strict";
(function () {
  const cfgNode = document.getElementById("egate-config");
  const msgNode = document.getElementById("egate-i18n");
  const cfg = cfgNode ? JSON.parse(cfgNode.textContent) : {};
  const messages = msgNode ? JSON.parse(msgNode.textContent) : {};

  function t(key, values) {
    const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    return text.replace(/\{([a-z_]+)\}/g, (m, name) =>
      values && values[name] !== undefined && values[name] !== null ? String(values[name]) : m);
  }

  /* el("tag.class", {attr: v}, child...) builds DOM nodes; text always goes in as text. */
  function el(spec, attrs, ...children) {
    const [tag, ...classes] = spec.split(".");
    const node = document.createElement(tag || "div");
    if (classes.length) node.className = classes.join(" ");
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = String(v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = String(v); else if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) if (c) node.append(c);
    return node;
  }

  let leaving = false;
  window.addEventListener("beforeunload", () => { leaving = true; });

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; this.detail = detail; }
  }

  /* JSON call to the central API with the session cookie and the CSRF header. */
  async function api(method, url, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") headers[cfg.csrf_header || "X-CSRF-Token"] = cfg.csrf_token || "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) {
      // The session ended: go to the login page once (not while the page is already leaving).
      if (!leaving) { leaving = true; window.location.assign((cfg.login_url || "/login") + "?next=" + encodeURIComponent(location.pathname)); }
      throw new ApiError(401, "signed out");
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      let detail = data && data.detail !== undefined ? data.detail : text || res.statusText;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      throw new ApiError(res.status, detail);
    }
    return data;
  }

  function url(name, params) {
    let u = (cfg.api || {})[name];
    if (!u) throw new Error("no API route " + name);
    for (const [k, v] of Object.entries(params || {})) u = u.replace("{" + k + "}", encodeURIComponent(v));
    return u;
  }

  /* A time from the API: seconds since the epoch (number) or an ISO 8601 string; ms or NaN. */
  function toMs(v) {
    if (v === null || v === undefined || v === "") return NaN;
    return typeof v === "number" ? v * 1000 : Date.parse(v);
  }

  /* Times in the port's time zone (IANA name) as "YYYY-MM-DD HH:MM:SS" (unambiguous in
     every language); the page says once which zone that is. */
  const fmtCache = new Map();
  function fmtTime(value, tz, withDate) {
    const ms = toMs(value);
    if (isNaN(ms)) return t("common.na");
    const zone = tz || cfg.timezone || "UTC";
    if (!fmtCache.has(zone)) {
      fmtCache.set(zone, new Intl.DateTimeFormat("en-GB", { timeZone: zone, hourCycle: "h23",
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }));
    }
    const p = {};
    for (const part of fmtCache.get(zone).formatToParts(new Date(ms))) p[part.type] = part.value;
    const time = `${p.hour}:${p.minute}:${p.second}`;
    return withDate ? `${p.year}-${p.month}-${p.day} ${time}` : time;
  }

  function notice(container, kind, text) {
    const n = el("div.notice." + kind, { role: kind === "error" ? "alert" : "status", text });
    container.replaceChildren(n);
    return n;
  }

  /* Server-sent events with reconnection; onStatus(true|false) tells whether it is live. */
  function stream(handlers, onStatus) {
    if (!cfg.api || !cfg.api.stream) return null;
    let source = null, retry = 1000;
    function open() {
      source = new EventSource(cfg.api.stream, { withCredentials: true });
      source.onopen = () => { retry = 1000; onStatus && onStatus(true); };
      source.onerror = () => {
        onStatus && onStatus(false);
        if (source.readyState === EventSource.CLOSED) { setTimeout(open, retry); retry = Math.min(retry * 2, 15000); }
      };
      // The service ends the stream when the session ends (idle timeout, logout elsewhere).
      source.addEventListener("session_ended", () => {
        source.close();
        if (!leaving) { leaving = true; window.location.assign((cfg.login_url || "/login") + "?next=" + encodeURIComponent(location.pathname)); }
      });
      for (const [type, fn] of Object.entries(handlers)) {
        source.addEventListener(type, (ev) => { let d; try { d = JSON.parse(ev.data); } catch (e) { return; } fn(d); });
      }
    }
    open();
    return { close: () => source && source.close() };
  }

  /* Optional alarm sound: off by default, a short two-tone beep made with WebAudio. */
  let audio = null;
  function soundOn() { return localStorage.getItem("egate.sound") === "on"; }
  function beep() {
    if (!soundOn()) return;
    try {
      audio = audio || new AudioContext();
      const now = audio.currentTime;
      [880, 660].forEach((f, i) => {
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = f; g.gain.value = 0.2;
        o.connect(g).connect(audio.destination);
        o.start(now + i * 0.25); o.stop(now + i * 0.25 + 0.2);
      });
    } catch (e) { /* no audio device: the visual alarm stays */ }
  }
  function soundToggle(button) {
    const render = () => {
      button.setAttribute("aria-pressed", soundOn() ? "true" : "false");
      button.textContent = t("lanes.sound") + ": " + t(soundOn() ? "lanes.sound_on" : "lanes.sound_off");
    };
    button.addEventListener("click", () => { localStorage.setItem("egate.sound", soundOn() ? "off" : "on"); render(); beep(); });
    render();
  }

  /* Confirm dialog (native <dialog>: focus trap, Escape cancels). Resolves true or false. */
  function confirmDialog(text, yesLabel, danger) {
    return new Promise((resolve) => {
      const yes = el("button" + (danger ? ".danger" : ".primary"), { type: "button", value: "yes", text: yesLabel });
      const no = el("button", { type: "button", value: "no", text: t("confirm.cancel") });
      const dlg = el("dialog", { "aria-labelledby": "dlg-title", "data-testid": "confirm" },
        el("h2", { id: "dlg-title", text: t("confirm.title") }), el("p", { text }), el("div.actions", {}, no, yes));
      document.body.append(dlg);
      const done = (v) => { dlg.close(); dlg.remove(); resolve(v); };
      yes.addEventListener("click", () => done(true));
      no.addEventListener("click", () => done(false));
      dlg.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
      dlg.showModal();
      no.focus();
    });
  }

  /* Alarm banner in the header, fed by the active-alarm count. */
  function setAlarmCount(n) {
    const banner = document.getElementById("alarm-banner");
    const badge = document.getElementById("exceptions-count");
    if (badge) { badge.textContent = n > 0 ? String(n) : ""; badge.hidden = n <= 0; }
    if (!banner) return;
    const prev = Number(banner.dataset.count || 0);
    banner.dataset.count = String(n);
    banner.hidden = n <= 0;
    const text = banner.querySelector(".text");
    if (text) text.textContent = t("banner.alarm", { count: n });
    if (n > prev) beep();
  }

  /* Idle timeout: warn a minute before, then log out (the server enforces it too). */
  function idleTimer() {
    const limit = Number(cfg.idle_timeout_seconds || 0) * 1000;
    const form = document.getElementById("logout-form");
    if (!limit || !form) return;
    const warnBefore = Math.min(60000, limit / 4);
    let last = Date.now();
    let box = null;
    const reset = () => { last = Date.now(); if (box) { box.remove(); box = null; } };
    ["keydown", "pointerdown", "wheel"].forEach((e) => document.addEventListener(e, reset, { passive: true }));
    const timer = setInterval(() => {
      const left = limit - (Date.now() - last);
      if (left <= 0) {
        clearInterval(timer);  // submit once
        leaving = true;
        const reason = form.querySelector("input[name=reason]");
        if (reason) reason.value = "idle";
        form.submit();
      } else if (left <= warnBefore) {
        if (!box) {
          const stay = el("button.primary", { type: "button", text: t("idle.stay"), onclick: reset });
          box = el("div.idle", { role: "alertdialog", "aria-live": "assertive" }, el("p.msg"), stay);
          document.body.append(box);
          stay.focus();
        }
        box.querySelector(".msg").textContent = t("idle.warning", { seconds: Math.ceil(left / 1000) });
      }
    }, 1000);
  }

  /* Epoch seconds of midnight starting the day "YYYY-MM-DD" in time zone tz. */
  function zonedMidnight(day, tz) {
    const [y, m, d] = day.split("-").map(Number);
    const guess = Date.UTC(y, m - 1, d);
    const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz || cfg.timezone || "UTC", hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(guess)).reduce((o, p) => { o[p.type] = Number(p.value); return o; }, {});
    const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    return (guess - (wall - guess)) / 1000;
  }

  /* The time zone of a port (configured), else the service's. */
  function tzOf(port) { return (cfg.port_timezones || {})[port] || cfg.timezone || "UTC"; }

  window.egate = { cfg, t, el, svg, api, url, toMs, tzOf, zonedMidnight, fmtTime, notice, stream, beep, soundToggle, confirmDialog, setAlarmCount, ApiError };
  document.addEventListener("DOMContentLoaded", idleTimer);
})();
