/* Lane detail: recent transactions as a timeline with stage timings, controls for the roles
   allowed (emergency open needs a confirm step), device states, list and trust-store
   versions. Own work, Apache-2.0. */
"use strict";
(function () {
  const { cfg, t, el, api, url, toMs, tzOf, fmtTime, notice, stream, confirmDialog } = window.egate;
  const root = document.getElementById("lane");
  const laneId = root.dataset.lane;
  const status = document.getElementById("lane-status");
  const controls = document.getElementById("controls");
  let lane = null;

  function stageBar(stages) {
    if (!stages || stages.length < 2) return null;
    const times = stages.map((s) => toMs(s.at));
    const start = times[0], total = Math.max(1, times[times.length - 1] - start);
    const bar = el("div.bar", { role: "img", "aria-label": t("lane.stage_timings") });
    const rows = [];
    for (let i = 1; i < stages.length; i++) {
      const ms = times[i] - times[i - 1];
      const seg = el("span.c" + (i % 6), { title: t("step." + stages[i].stage) + " " + (ms / 1000).toFixed(2) + " s" });
      seg.style.width = (100 * ms / total).toFixed(2) + "%";
      bar.append(seg);
      rows.push(el("tr", {}, el("td", { text: t("step." + stages[i].stage) }), el("td.num", { text: (ms / 1000).toFixed(2) + " s" })));
    }
    return [bar, el("details", {}, el("summary", { text: t("lane.stage_timings") }), el("table", {}, el("tbody", {}, rows)))];
  }

  function duration(x) {
    if (x.duration_ms) return x.duration_ms / 1000;
    const times = (x.stages || []).map((s) => toMs(s.at)).filter((v) => !isNaN(v));
    return times.length > 1 ? (Math.max(...times) - Math.min(...times)) / 1000 : null;
  }

  function renderCommands(list) {
    const box = document.getElementById("commands");
    if (!box) return;
    box.replaceChildren(list.length ? el("table", {}, el("tbody", {}, list.slice(0, 10).map((c) => el("tr", { "data-command": c.command_id },
      el("td", { text: fmtTime(c.issued_at, tzOf(lane && lane.port), true) }), el("td", { text: t("action." + c.action) }),
      el("td", { text: c.issued_by || "" }), el("td", { text: t("command." + (c.result || c.status)) + (c.detail ? " (" + c.detail + ")" : "") })))))
      : el("p.muted", { text: t("common.na") }));
  }

  function renderLane(l) {
    lane = l;
    const tz = tzOf(l.port);
    document.getElementById("lane-state").textContent = t("state." + (l.online === false ? "offline" : l.state || "idle")) + " · " + t("step." + (l.step || "none"));
    document.getElementById("devices").replaceChildren(el("table", {}, el("tbody", {},
      Object.entries(l.devices || {}).map(([d, s]) => el("tr", {}, el("th", { scope: "row", text: t("device." + d) }),
        el("td", {}, el("span.outcome." + (s === "ok" ? "pass" : "fail"), {}, el("span.icon", { "aria-hidden": "true" }), t("device." + (s === "ok" ? "ok" : s === "unknown" ? "unknown" : "fault")) + (s !== "ok" && s !== "fault" && s !== "unknown" ? " (" + s + ")" : ""))))))));
    const lists = Object.assign({}, l.lists || {});
    lists.trust_store = l.trust_store;
    document.getElementById("versions").replaceChildren(el("table", {}, el("tbody", {},
      Object.entries(lists).map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k === "trust_store" ? t("device.trust_store") : k }),
        el("td", { "data-list": k, text: v ?? t("common.na") }))))));
    const txs = l.transactions || [];
    document.getElementById("timeline").replaceChildren(txs.length ? el("ol.timeline", {}, txs.map((x) => el("li", {},
      el("strong", { text: fmtTime(x.occurred_at, tz, true) + " · " + t("decision." + x.decision) }),
      duration(x) !== null ? el("span.muted", { text: " · " + t("lane.duration") + " " + duration(x).toFixed(1) + " s" }) : null,
      (x.reasons || []).length ? el("div.muted", { text: x.reasons.join(", ") }) : null,
      x.decision === "referred" ? el("a", { href: url("referral_page", { transaction_id: x.transaction_id }), text: t("exceptions.review") }) : null,
      stageBar(x.stages)))) : el("p.muted", { text: t("lane.no_transactions") }));
  }

  async function command(action) {
    if (action === "emergency_open") {
      const ok = await confirmDialog(t("confirm.emergency", { lane: laneId }), t("confirm.yes"), true);
      if (!ok) return;
    }
    try {
      const res = await api("POST", url("lane_commands", { lane_id: laneId }), { action, args: {} });
      notice(status, "ok", t("action.sent", { action: t("action." + action) }));
      status.dataset.command = (res && res.command_id) || "";
    } catch (e) { notice(status, "error", t("action.failed", { detail: e.message })); }
  }

  if (controls) {
    controls.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => command(b.dataset.action)));
  }

  async function load() {
    try {
      const l = await api("GET", url("lane", { lane_id: laneId }));
      renderLane(l);
      renderCommands(l.commands || []);
    }
    catch (e) { notice(status, "error", t("common.error", { detail: e.message })); }
  }
  load();
  let pending = null;
  const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 300); };
  stream({ lane: (l) => { if (l.lane_id === laneId) soon(); },
           command: (c) => { if (c.lane_id === laneId) soon(); } }, () => {});
})();
