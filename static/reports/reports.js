// Retention report pages: pickers reload the report fragment, charts from JSON, CSV downloads,
// the cohort view switch, segment lists and the CLV fit's progress.
// Fetches go through App Bridge, which adds the session token (Authorization: Bearer) to same-origin
// requests; downloads use fetch + Blob because a plain link inside the admin iframe carries no token.
(function () {
  "use strict";
  const t = JSON.parse(document.getElementById("report-i18n").textContent);
  const lang = document.documentElement.lang || undefined;
  const body = document.getElementById("report-body");
  const form = document.getElementById("report-form");
  const palette = ["#005bd3", "#8051ff", "#00a47c", "#e5501e", "#c4007a", "#b98900", "#29845a", "#4a4a4a",
    "#5c6ac4", "#d72c0d", "#0094d5", "#7a7a7a", "#2c6ecb"];
  let charts = [];
  let extra = {}; // parameters set by in-page controls (pagination), sent with the form's

  function params() {
    const p = new URLSearchParams(form ? new FormData(form) : undefined);
    Object.entries(extra).forEach(([k, v]) => p.set(k, v));
    return p;
  }

  function formatter(kind, currency) {
    if (kind === "percent") return (v) => new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 }).format(v);
    if (kind === "money") return (v) => new Intl.NumberFormat(lang, { style: "currency", currency: currency || "USD" }).format(v);
    return (v) => new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(v);
  }

  function drawCharts() {
    charts.forEach((c) => c.destroy());
    charts = [];
    if (typeof Chart === "undefined") return;
    body.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      if (canvas.closest("[hidden]")) return; // drawn when its panel is shown (Chart.js needs a size)
      const node = document.getElementById(canvas.dataset.chart);
      if (!node) return;
      const spec = JSON.parse(node.textContent);
      const fmt = formatter(spec.y, spec.currency);
      const datasets = spec.datasets.map((d, i) => ({
        label: d.label, data: d.data, spanGaps: false,
        borderColor: d.emphasis ? "#303030" : palette[i % palette.length],
        backgroundColor: spec.type === "bar" ? palette[i % palette.length] : "transparent",
        borderWidth: d.emphasis ? 3 : 1.5, pointRadius: spec.type === "line" ? (d.emphasis ? 3 : 0) : undefined,
      }));
      charts.push(new Chart(canvas, {
        type: spec.type, data: { labels: spec.labels, datasets },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
            tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + ": " + (ctx.parsed.y === null ? "–" : fmt(ctx.parsed.y)) } },
          },
          // "number" charts count customers: whole-number ticks only (no "4.5 customers").
          scales: { y: { beginAtZero: true, ticks: { callback: (v) => fmt(v), precision: spec.y === "number" ? 0 : undefined } } },
        },
      }));
    });
  }

  async function reload() {
    if (!form) return;
    body.setAttribute("aria-busy", "true");
    body.classList.add("is-loading");
    try {
      const response = await fetch(form.dataset.fragmentUrl + "?" + params().toString(), { headers: { Accept: "text/html" } });
      body.innerHTML = await response.text();
    } catch (e) {
      body.insertAdjacentHTML("afterbegin", '<p class="banner banner--critical" role="alert"></p>');
      body.firstElementChild.textContent = t.failed;
    }
    body.removeAttribute("aria-busy");
    body.classList.remove("is-loading");
    afterLoad();
  }

  async function download(button) {
    const url = new URL(button.dataset.csv, window.location.href);
    params().forEach((v, k) => { if (!url.searchParams.has(k)) url.searchParams.set(k, v); });
    button.disabled = true;
    try {
      const response = await fetch(url.toString(), { headers: { Accept: "text/csv" } });
      if (!response.ok) throw new Error(String(response.status));
      const blob = await response.blob();
      const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = match ? match[1] : "report.csv";
      document.body.appendChild(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    } catch (e) {
      alert(t.download_failed);
    }
    button.disabled = false;
  }

  async function loadInto(button) {
    const target = document.getElementById(button.dataset.target);
    target.setAttribute("aria-busy", "true");
    const response = await fetch(button.dataset.load, { headers: { Accept: "text/html" } });
    target.innerHTML = await response.text();
    target.removeAttribute("aria-busy");
    target.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function switchView(name) {
    body.querySelectorAll("[data-view]").forEach((b) => {
      const on = b.dataset.view === name;
      b.classList.toggle("is-selected", on);
      b.setAttribute("aria-pressed", String(on));
    });
    body.querySelectorAll("[data-view-panel]").forEach((panel) => { panel.hidden = panel.dataset.viewPanel !== name; });
    drawCharts();
  }

  async function saveSettings(settingsForm) {
    const out = settingsForm.querySelector("[data-settings-result]");
    const response = await fetch(settingsForm.dataset.url, { method: "POST", body: new FormData(settingsForm) });
    const data = await response.json();
    if (!response.ok) { out.textContent = data.error; return; }
    out.textContent = t.saved;
    reload();
  }

  let polling = null;
  function pollFit() {
    const panel = document.getElementById("clv-fit");
    if (!panel || polling) return;
    const state = panel.querySelector("[data-fit-state]");
    const bar = panel.querySelector("[data-fit-progress]");
    const start = panel.querySelector("[data-fit-start]");
    async function tick() {
      polling = null;
      let s;
      try {
        const response = await fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" } });
        s = await response.json();
      } catch (e) { polling = setTimeout(tick, 5000); return; }
      const fit = s.latest;
      if (fit && (fit.status === "queued" || fit.status === "running")) {
        start.disabled = true;
        bar.hidden = false;
        bar.firstElementChild.style.width = fit.progress + "%";
        state.textContent = fit.status === "queued" ? t.queued : t.running + " " + (t["stage_" + fit.stage] || fit.stage) + " (" + fit.progress + " %)";
        polling = setTimeout(tick, 1500);
      } else if (panel.dataset.active) {
        panel.dataset.active = "";
        reload(); // the fit finished while we watched: show its numbers
      } else if (fit && fit.status === "failed") {
        start.disabled = false;
        state.textContent = t.fit_failed + " " + fit.error;
      }
    }
    if (panel.dataset.active) tick();
    start.addEventListener("click", async () => {
      start.disabled = true;
      await fetch(panel.dataset.fitUrl, { method: "POST" });
      panel.dataset.active = "1";
      tick();
    });
  }

  function afterLoad() {
    drawCharts();
    polling = null;
    pollFit();
  }

  if (form && !form.hidden) {
    form.addEventListener("submit", (event) => { event.preventDefault(); extra = {}; reload(); });
    form.querySelectorAll("button[data-days]").forEach((button) => {
      button.addEventListener("click", () => {
        const end = form.end.value ? new Date(form.end.value) : new Date();
        const start = new Date(end);
        start.setDate(start.getDate() - Number(button.dataset.days) + 1);
        form.start.value = start.toISOString().slice(0, 10);
        form.requestSubmit();
      });
    });
    const compare = form.querySelector("[data-compare]");
    if (compare) compare.addEventListener("change", () => {
      form.querySelector("[data-custom-compare]").hidden = compare.value !== "custom";
    });
  }

  // One delegated listener survives fragment reloads.
  body.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.csv) download(button);
    else if (button.dataset.view) switchView(button.dataset.view);
    else if (button.dataset.load) loadInto(button);
    else if (button.dataset.param) { extra[button.dataset.param] = button.dataset.value; reload(); }
  });
  body.addEventListener("submit", (event) => {
    if (event.target.id === "report-settings") { event.preventDefault(); saveSettings(event.target); }
  });
  afterLoad();
})();
