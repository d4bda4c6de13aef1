/* Statistics page: the statistics API drawn as charts, exported as CSV. Own work, Apache-2.0.
   Sources: /api/v1/stats/summary (decisions, reasons, passage time, usage against a year
   earlier, availability, face scores) and /api/v1/stats/passages (per hour and per day). */
"use strict";
(function () {
  const { cfg, t, el, api, url, notice, fmtTime } = window.egate;
  const { stacked, hbars } = window.egate.charts;
  const root = document.getElementById("stats");
  const form = document.getElementById("stats-form");
  const exportBtn = document.getElementById("export-csv");
  const DECISIONS = ["accepted", "rejected", "referred", "aborted"];
  let last = null;

  /* Passage rows (bucket_start, decision, count) -> labels and one series per decision. */
  function byDecision(rows, daily) {
    const starts = [...new Set(rows.map((r) => r.bucket_start))].sort();
    const labels = starts.map((s) => (daily ? s.slice(0, 10) : fmtTime(s, cfg.timezone, false).slice(0, 5)));  // days are UTC days (the API's buckets)
    const series = DECISIONS.map((d) => ({ name: t("decision." + d),
      values: starts.map((s) => rows.filter((r) => r.bucket_start === s && r.decision === d).reduce((a, r) => a + r.count, 0)) }));
    return { labels, series };
  }

  function render(data) {
    last = data;
    const { summary: s, hourly, daily } = data;
    if (!s.passages) { root.replaceChildren(el("p.notice", { role: "status", text: t("stats.no_data") })); return; }
    const parts = [];
    if (hourly.length) { const d = byDecision(hourly, false); parts.push(stacked(t("stats.by_hour"), d.labels, d.series, t("stats.table"))); }
    if (daily.length) { const d = byDecision(daily, true); parts.push(stacked(t("stats.by_day"), d.labels, d.series, t("stats.table"))); }
    const ports = {};
    for (const r of daily) ports[r.port] = (ports[r.port] || 0) + r.count;
    if (Object.keys(ports).length) parts.push(hbars(t("stats.by_port"), Object.entries(ports).sort().map(([p, n]) => ({ label: p, value: n })), { tableCaption: t("stats.table") }));
    const reasons = Object.entries(s.referral_reasons || {});
    if (reasons.length) parts.push(hbars(t("stats.reasons"), reasons.map(([code, n]) => ({ label: code, value: n, cls: 2 })), { tableCaption: t("stats.table") }));
    const pt = s.passage_time_ms || {};
    const hist = s.passage_time_histogram;
    if (hist && hist.counts && hist.counts.some((n) => n > 0)) {
      const fig = stacked(t("stats.passage_time"), hist.bins_s.slice(0, -1).map((b, i) => b + "–" + hist.bins_s[i + 1]),
        [{ name: t("lanes.passages", { count: "" }).trim(), values: hist.counts }], t("stats.table"));
      parts.push(fig);
    }
    if (pt.median !== null && pt.median !== undefined) {
      const fig = hbars(t("stats.passage_time"), [{ label: "p50", value: pt.median / 1000, cls: 4 }, { label: "p95", value: pt.p95 / 1000, cls: 3 }],
        { format: (v) => v.toFixed(1) + " s", tableCaption: t("stats.table") });
      fig.querySelector("figcaption").append(el("p.muted", { text: t("stats.median", { value: (pt.median / 1000).toFixed(1) }) + " · " + t("stats.p95", { value: (pt.p95 / 1000).toFixed(1) }) }));
      parts.push(fig);
    }
    const u = s.usage || {};
    const fig = hbars(t("stats.yoy"), [{ label: t("stats.this_year"), value: u.automated_clearances || 0, cls: 4 },
      { label: t("stats.last_year"), value: u.same_period_last_year || 0, cls: 3 }], { tableCaption: t("stats.table") });
    if (u.change_percent !== null && u.change_percent !== undefined) {
      fig.querySelector("figcaption").append(el("p", { "data-testid": "yoy-change",
        text: t("stats.change", { value: (u.change_percent >= 0 ? "+" : "") + u.change_percent.toFixed(1) + " %" }) }));
    }
    parts.push(fig);
    const av = Object.entries(s.availability || {});
    if (av.length) parts.push(hbars(t("stats.availability"), av.map(([lane, v]) => ({ label: lane, value: v, cls: 0 })),
      { max: 1, format: (v) => (100 * v).toFixed(1) + " %", tableCaption: t("stats.table") }));
    const face = s.face_similarity_histogram;
    if (face && face.counts.some((n) => n > 0)) {
      parts.push(stacked(t("referral.similarity"), face.bins.slice(0, -1).map((b, i) => b.toFixed(1) + "–" + face.bins[i + 1].toFixed(1)),
        [{ name: t("lanes.passages", { count: "" }).trim(), values: face.counts }], t("stats.table")));
    }
    root.replaceChildren(el("div.charts", {}, parts));
  }

  /* One CSV with a "section" column, so every figure on the page is in the file. */
  function csv(data) {
    const s = data.summary;
    const rows = [["section", "key", "name", "value"]];
    const put = (...r) => rows.push(r);
    for (const [sec, list] of [["hourly", data.hourly], ["daily", data.daily]]) {
      for (const r of list) put(sec, r.bucket_start + " " + r.port, r.decision, r.count);
    }
    for (const [d, n] of Object.entries(s.by_decision || {})) put("by_decision", "", d, n);
    for (const [code, n] of Object.entries(s.referral_reasons || {})) put("referral_reasons", code, "count", n);
    const pt = s.passage_time_ms || {};
    put("passage_time_ms", "median", "", pt.median ?? ""); put("passage_time_ms", "p95", "", pt.p95 ?? "");
    const u = s.usage || {};
    put("usage", "automated_clearances", "", u.automated_clearances ?? 0);
    put("usage", "same_period_last_year", "", u.same_period_last_year ?? 0);
    put("usage", "change_percent", "", u.change_percent ?? "");
    for (const [lane, v] of Object.entries(s.availability || {})) put("availability", lane, "ratio", v);
    for (const [dev, n] of Object.entries(s.device_faults || {})) put("device_faults", dev, "count", n);
    // Quote every cell that needs it; a leading = + - @ is neutralised (no spreadsheet formulas).
    const cell = (c) => {
      let v = String(c ?? "");
      if (/^[=+\-@]/.test(v) && isNaN(Number(v))) v = "'" + v;
      return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
  }

  async function load() {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form).entries()) if (v) params.set(k, v);
    const q = params.toString();
    try {
      const [summary, hourly, daily] = await Promise.all([
        api("GET", url("stats") + (q ? "?" + q : "")),
        api("GET", url("stats_passages") + "?bucket=hour&group=port" + (q ? "&" + q : "")),
        api("GET", url("stats_passages") + "?bucket=day&group=port" + (q ? "&" + q : ""))]);
      render({ summary, hourly: hourly.rows || [], daily: daily.rows || [] });
      document.getElementById("passages-csv").href = url("stats_passages") + "?format=csv&bucket=hour&group=lane" + (q ? "&" + q : "");
    } catch (e) { notice(root, "error", t("common.error", { detail: e.message })); }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  exportBtn.addEventListener("click", () => {
    if (!last) return;
    const blob = new Blob([csv(last)], { type: "text/csv;charset=utf-8" });
    const a = el("a", { href: URL.createObjectURL(blob), download: "egate-statistics.csv" });
    document.body.append(a); a.click(); a.remove();
  });
  load();
  window.egate.stats = { csv, render };
})();
