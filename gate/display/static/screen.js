// Traveller screen: renders the lane's snapshots (GET /screen/events, server-sent events).
// The lane sends translated texts; this script only places them and runs the countdown.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let countdown = null; // {until: ms, total: s, label: "... {seconds} ..."}
  let current = null;

  function renderCountdown() {
    const box = $("countdown");
    if (!countdown) { box.hidden = true; return; }
    const left = Math.max(0, Math.ceil((countdown.until - Date.now()) / 1000));
    box.hidden = false;
    $("countdown-text").textContent = countdown.label.replace("{seconds}", String(left));
    $("countdown-bar").style.width = (countdown.total ? (100 * left) / countdown.total : 0) + "%";
  }

  function render(s) {
    current = s;
    document.documentElement.lang = s.language;
    document.documentElement.dir = s.dir;
    const main = $("main");
    main.dataset.tone = s.tone;
    main.dataset.screen = s.screen;
    $("pictogram").setAttribute("href", "#pict-" + s.pictogram);
    $("title").textContent = s.title;
    $("hint").textContent = s.hint;
    const progress = $("progress");
    if (s.progress) {
      progress.hidden = false;
      progress.setAttribute("aria-valuemax", String(s.progress.total));
      progress.setAttribute("aria-valuenow", String(s.progress.step));
      progress.setAttribute("aria-valuetext", s.progress.label);
      progress.setAttribute("aria-label", s.progress.label);
      const steps = $("steps");
      steps.replaceChildren(...s.progress.steps.map((name, i) => {
        const li = document.createElement("li");
        li.textContent = name;
        li.dataset.state = i + 1 < s.progress.step ? "done" : i + 1 === s.progress.step ? "current" : "todo";
        if (i + 1 === s.progress.step) li.setAttribute("aria-current", "step");
        return li;
      }));
    } else {
      progress.hidden = true;
    }
    countdown = s.countdown
      ? { until: Date.now() + s.countdown.seconds * 1000, total: s.countdown.total, label: s.countdown.label }
      : null;
    renderCountdown();
    $("choose").textContent = s.choose;
    const buttons = $("language-buttons");
    buttons.replaceChildren(...s.languages.map((l) => {
      const b = document.createElement("button");
      b.type = "button";
      b.lang = l.code;
      b.textContent = l.name;
      b.dataset.language = l.code;
      b.setAttribute("aria-pressed", String(l.code === s.language));
      b.addEventListener("click", () => choose(l.code));
      return b;
    }));
    document.body.dataset.version = String(s.version);
  }

  function choose(code) {
    fetch("/screen/language", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ language: code }),
    }).catch(() => {});
  }

  function connect() {
    const source = new EventSource("/screen/events");
    source.onopen = () => { document.body.dataset.connected = "true"; };
    source.onerror = () => { document.body.dataset.connected = "false"; };
    source.onmessage = (e) => {
      try { render(JSON.parse(e.data)); } catch (err) { console.error("bad snapshot", err); }
    };
  }

  setInterval(renderCountdown, 250);
  connect();
})();
