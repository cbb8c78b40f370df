// The operations page: the pipeline at a glance from /api/v1/ops/summary (and the
// cluster's members), refreshed every 15 s; dead jobs retried with the admin token,
// which stays in this page's memory only.
"use strict";

(() => {
  const REFRESH_MS = 15000;
  const PRIORITIES = ["high", "ml", "low"];
  const STATES = ["queued", "running", "done", "dead"];
  const $ = (id) => document.getElementById(id);
  const el = RO.el;
  let timer = null;

  const when = (t) => (t ? new Date(t).toLocaleString() : "–");
  const secs = (s) => (s === null || s === undefined ? "–" : s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);

  function table(id, head, rows, empty) {
    const t = $(id);
    t.replaceChildren();
    t.append(el("thead", {}, [el("tr", {}, head.map((h) => el("th", { className: h.num ? "num" : null, text: h.text || h })))]));
    const body = el("tbody");
    if (rows.length === 0) {
      body.append(el("tr", {}, [el("td", { colspan: head.length, className: "muted wrap", text: empty })]));
    }
    for (const row of rows) {
      body.append(el("tr", {}, row.map((cell) => {
        if (cell instanceof Node) return el("td", {}, [cell]);
        const long = typeof cell === "string" && cell.length > 40;
        return el("td", { className: typeof cell === "number" ? "num" : long ? "wrap" : null, text: cell ?? "–" });
      })));
    }
    t.append(body);
  }

  function queue(summary) {
    const counts = {};
    for (const c of summary.queue) counts[`${c.priority}/${c.state}`] = c;
    const rows = PRIORITIES.map((name, p) => [name, ...STATES.map((s) => {
      const c = counts[`${p}/${s}`];
      if (!c) return 0;
      return s === "queued" ? `${c.count} (${c.due} due)` : c.count;
    })]);
    table("queue", ["priority", ...STATES.map((s) => ({ text: s, num: true }))], rows, "");
  }

  async function retry(id, button) {
    RO.clearError();
    const token = $("admin-token").value.trim();
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    button.disabled = true;
    try {
      await RO.api(`/api/v1/ops/jobs/${id}/retry`, { method: "POST", headers });
      RO.status(`Job ${id} queued again.`);
      await load();
    } catch (e) {
      RO.showError(`Job ${id} was not retried. ${e.message}`);
      button.disabled = false;
    }
  }

  function dead(summary) {
    $("dead-total").textContent = `(${summary.dead_jobs.total})`;
    const rows = summary.dead_jobs.latest.map((j) => {
      const cells = [j.id, j.kind, j.barcode || "–", j.attempts, j.last_error || "–", when(j.finished_at)];
      if (summary.retry_enabled) {
        const b = el("button", { type: "button", className: "retry", "data-job-id": j.id, text: "Retry" });
        b.addEventListener("click", () => retry(j.id, b));
        cells.push(b);
      }
      return cells;
    });
    const head = ["id", "kind", "barcode", "attempts", "last error", "died"];
    if (summary.retry_enabled) head.push("");
    table("dead", head, rows, "No dead job.");
  }

  function listener(summary) {
    const rows = summary.listener.map((p) => [p.stream, p.last_id, secs(p.lag_secs), `${secs(p.idle_secs)} ago`]);
    const empty = summary.listener_configured
      ? "The listener has not stored a position yet."
      : "The update listener does not run here (no redis.url, or no listener role).";
    table("listener", ["stream (lane)", "position", "lag at last batch", "last batch"], rows, empty);
  }

  function tasks(summary) {
    const rows = summary.scheduler_tasks.map((t) => {
      const outcome = el("span", { className: t.ok === false ? "bad" : t.ok ? "ok" : "muted", text: t.ok === null ? "running or unknown" : t.ok ? "ok" : "failed" });
      return [t.name, t.runs, t.node || "–", when(t.last_started), when(t.last_finished), outcome, t.outcome || "–"];
    });
    table("tasks", ["task", { text: "runs", num: true }, "node", "last started", "last finished", "result", "outcome"], rows, "No cluster-wide task has run yet.");
  }

  function insights(summary) {
    const hours = summary.insights.hours;
    const now = new Date(summary.generated_at);
    const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours()) - (hours - 1) * 3600000;
    const byType = new Map();
    for (const r of summary.insights.per_hour) {
      const slot = Math.floor((Date.parse(`${r.hour}Z`) - start) / 3600000);
      if (slot < 0 || slot >= hours) continue;
      if (!byType.has(r.insight_type)) byType.set(r.insight_type, new Array(hours).fill(0));
      byType.get(r.insight_type)[slot] += r.count;
    }
    const rows = [...byType.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([type, counts]) => {
      const top = Math.max(...counts, 1);
      const svg = el("svg", { className: "spark", viewBox: `0 0 ${hours * 10} 24`, preserveAspectRatio: "none", role: "img", "aria-label": `${type} per hour` });
      counts.forEach((n, i) => {
        if (n === 0) return;
        const h = Math.max(2, Math.round((n / top) * 24));
        svg.append(el("rect", { x: i * 10 + 1, y: 24 - h, width: 8, height: h }, [el("title", { text: `${n}` })]));
      });
      return [type, svg, counts.reduce((a, b) => a + b, 0)];
    });
    table("insights", ["type", `per hour (oldest left, ${hours} h)`, { text: "total", num: true }], rows, "No insight created in the last 24 hours.");
  }

  function health(summary) {
    const t = summary.triton;
    $("triton").replaceChildren(el("h3", { text: "Triton models" }), t
      ? el("p", {}, [el("span", { className: t.passed ? "ok" : "bad", text: t.passed ? "ready" : "not ready" }), ` — ${t.output}`])
      : el("p", { className: "muted", text: "This node does not run the models (no workers role)." }));
    const x = summary.logo_index;
    const facts = x.ready
      ? `${x.vectors} vectors, ${(x.memory_bytes / 1048576).toFixed(1)} MiB, ${x.quantization}; opened: ${x.opened}`
      : x.error || "not ready yet";
    $("index").replaceChildren(el("h3", { text: "Logo index" }), el("p", {}, [el("span", { className: x.ready ? "ok" : "bad", text: x.ready ? "ready" : "not ready" }), ` — ${facts}`]));
  }

  async function cluster(summary) {
    const box = $("cluster");
    if (!summary.cluster_enabled) {
      box.replaceChildren(el("p", { className: "muted", text: "Cluster mode is off: this node runs alone." }));
      return;
    }
    const status = await RO.api("/api/v1/cluster");
    const members = status.members || [];
    const t = el("table", { id: "members" });
    box.replaceChildren(el("div", { className: "scroll" }, [t]));
    if (status.redis_error) box.prepend(el("p", { className: "bad", text: `Members unknown: ${status.redis_error}` }));
    table("members", ["node", "roles", "HTTP", { text: "shards", num: true }, "listener", "last seen"],
      members.map((m) => [m.node_id, (m.roles || []).join(", "), m.http_addr || "–", (m.owned_shards || []).length, m.listener ? "yes" : "", when(m.last_seen_ms)]),
      "No live member.");
  }

  async function load() {
    clearTimeout(timer);
    try {
      const summary = await RO.api("/api/v1/ops/summary");
      RO.clearError();
      $("node").textContent = `Node ${summary.node} · version ${summary.version} · roles ${summary.roles.join(", ")} · at ${when(summary.generated_at)}`;
      $("token-box").hidden = !summary.retry_enabled;
      $("read-only").hidden = summary.retry_enabled;
      queue(summary);
      dead(summary);
      listener(summary);
      tasks(summary);
      insights(summary);
      health(summary);
      await cluster(summary);
    } catch (e) {
      RO.showError(e.message);
    } finally {
      timer = setTimeout(load, REFRESH_MS);
    }
  }

  $("refresh").addEventListener("click", () => {
    RO.status("");
    load();
  });
  load();
})();
