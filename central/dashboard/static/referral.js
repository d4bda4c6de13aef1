/* Referral review: chip portrait beside the live capture, scores, every check explained,
   document data, and the officer's decision. Own work, Apache-2.0. */
"use strict";
(function () {
  const { cfg, t, el, api, url, fmtTime, notice, stream } = window.egate;
  let lastCommand = null;
  const root = document.getElementById("referral");
  const status = document.getElementById("referral-status");
  const tid = root.dataset.transaction;
  const reasons = cfg.reasons || {};
  let current = null;

  function explain(code) {
    const r = reasons[code];
    return el("li.reason", {}, el("code", { text: code }), " — ", r ? r.explanation : t("common.na"));
  }

  function portrait(kind, label, available) {
    const fig = el("figure", { "data-portrait": kind }, el("figcaption", { text: label }));
    if (available) {
      fig.prepend(el("img", { src: url("portrait", { transaction_id: tid, kind }), alt: label }));
    } else {
      fig.prepend(el("div.none", { text: t("referral.no_portrait") }));
    }
    return fig;
  }

  function meter(value, threshold, label, caption) {
    const box = el("div.card", {}, el("strong", { text: label + ": " }),
      el("span", { "data-testid": "score-" + label, text: value === null || value === undefined ? t("common.na") : Number(value).toFixed(3) }),
      caption ? el("span.muted", { text: " (" + caption + ")" }) : null);
    if (value !== null && value !== undefined) {
      const lo = Math.min(0, value, threshold ?? 0), hi = Math.max(1, value, threshold ?? 1);
      const pct = (v) => (100 * (v - lo) / (hi - lo)).toFixed(1) + "%";
      const bar = el("div.meter", { role: "img", "aria-label": label + " " + Number(value).toFixed(3) + (caption ? ", " + caption : "") }, el("div.fill"));
      bar.firstChild.style.width = pct(value);
      if (threshold !== null && threshold !== undefined) { const m = el("div.mark"); m.style.left = pct(threshold); bar.append(m); }
      box.append(bar);
    }
    return box;
  }

  function render(r) {
    current = r;
    const tx = r.transaction || {};
    const scores = tx.scores || {};
    const stored = new Set(Array.isArray(r.portraits) ? r.portraits : []);
    const decided = r.status && r.status !== "pending";
    const doc = r.document || tx.document;
    const checks = el("table", {}, el("caption.visually-hidden", { text: t("referral.checks") }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("referral.check") }), el("th", { scope: "col", text: t("referral.outcome") }), el("th", { scope: "col", text: t("referral.reasons") }))),
      el("tbody", {}, (tx.verdicts || []).map((v) => el("tr", { "data-check": v.check },
        el("td", { text: v.check.replace(/_/g, " ") }),
        el("td", {}, el("span.outcome." + v.outcome, {}, el("span.icon", { "aria-hidden": "true" }), t("outcome." + v.outcome))),
        el("td", {}, el("ul", {}, (v.reasons || []).map(explain)), v.detail ? el("p.muted", { text: v.detail }) : null)))));
    const docPart = doc
      ? el("dl.doc", {}, Object.entries(doc).filter(([k]) => k !== "fingerprint").map(([k, v]) => [el("dt", { text: t("doc." + k) }), el("dd", { text: v ?? t("common.na") })]))
      : el("p.muted", { text: t("referral.document_hidden") });
    const note = el("textarea", { id: "note", name: "note", maxlength: 500 });
    const decide = (decision) => submit(decision, note.value);
    const form = decided ? el("p.notice.ok", { text: t("referral.decided", { lane: r.lane_id, decision: t("decision." + r.decision) }) })
      : el("div.card", {}, el("label", { for: "note", text: t("referral.note") }), note,
          el("div.decide", {},
            el("button.admit", { type: "button", "data-decision": "admit", text: t("referral.admit"), onclick: () => decide("admit") }),
            el("button.danger", { type: "button", "data-decision": "refuse", text: t("referral.refuse"), onclick: () => decide("refuse") }),
            el("button", { type: "button", "data-decision": "second_line", text: t("referral.second_line"), onclick: () => decide("second_line") })));
    root.replaceChildren(
      el("p", {}, el("a", { href: url("lane_page", { lane_id: r.lane_id }), text: t("lane.title", { lane: r.lane_id }) }),
        " · " + fmtTime(tx.occurred_at || r.created_at, null, true) + " · " + t("decision." + (tx.decision || "referred"))),
      el("div.two-col", {},
        el("section", { "aria-labelledby": "h-portraits" }, el("h2.visually-hidden", { id: "h-portraits", text: t("referral.chip_portrait") }),
          el("div.portraits", {}, portrait("chip", t("referral.chip_portrait"), stored.has("chip")),
            portrait("live", t("referral.live_capture"), stored.has("live"))),
          el("div.scores", {},
            meter(scores.face_similarity, scores.face_threshold, t("referral.similarity"),
              scores.face_threshold !== undefined && scores.face_threshold !== null ? t("referral.threshold", { threshold: scores.face_threshold }) : ""),
            meter(scores.liveness, null, t("referral.liveness"), ""),
            meter(scores.live_face_quality, null, t("referral.quality"), ""))),
        el("section", {}, el("h2", { text: t("referral.document") }), docPart, form)),
      el("h2", { text: t("referral.checks") }),
      (tx.reasons || r.reasons || []).length ? el("ul", {}, (tx.reasons || r.reasons).map(explain)) : null,
      checks);
  }

  async function submit(decision, note) {
    root.querySelectorAll("button[data-decision]").forEach((b) => { b.disabled = true; });
    try {
      const res = await api("POST", url("referral_decision", { transaction_id: tid }), { decision, note });
      const commandId = res && res.command ? res.command.command_id : res && res.command_id;
      current = Object.assign({}, current, { status: "decided", decision, command_id: commandId });
      lastCommand = commandId;
      render(current);
      notice(status, "ok", t("referral.decided", { lane: current.lane_id, decision: t("decision." + decision) }) +
        (commandId ? " " + t("referral.command_state", { state: t("command.queued") }) : ""));
      status.dataset.command = commandId || "";
    } catch (e) {
      root.querySelectorAll("button[data-decision]").forEach((b) => { b.disabled = false; });
      notice(status, "error", t("common.error", { detail: e.message }));
    }
  }

  async function load() {
    try { render(await api("GET", url("referral", { transaction_id: tid }))); }
    catch (e) { notice(root, "error", e.status === 404 ? t("referral.not_found") : t("common.error", { detail: e.message })); }
  }
  load();
  stream({ command: (c) => {
    if (current && c.command_id && c.command_id === lastCommand) {
      const state = c.result || c.status || "delivered";
      status.dataset.commandState = state;
      notice(status, ["done", "delivered", "queued"].includes(state) ? "ok" : "error",
        t("referral.decided", { lane: current.lane_id, decision: t("decision." + current.decision) }) + " " +
        t("referral.command_state", { state: t("command." + state) }));
    }
  } }, () => {});
})();
