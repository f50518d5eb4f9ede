// Home page: live sync progress, date range changes without a reload, and the monthly chart.
// Fetches go through App Bridge, which adds the session token (Authorization: Bearer) to same-origin requests.
(function () {
  "use strict";
  const t = JSON.parse(document.getElementById("i18n-strings").textContent);
  const fmt = new Intl.NumberFormat(document.documentElement.lang || undefined);
  let chart = null;

  function drawChart() {
    const node = document.getElementById("monthly-data");
    const canvas = document.getElementById("monthly-chart");
    if (!node || !canvas || typeof Chart === "undefined") return;
    const data = JSON.parse(node.textContent);
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: t.new, data: data.new, backgroundColor: "#0094d5", stack: "o" },
          { label: t.returning, data: data.returning, backgroundColor: "#5c6ac4", stack: "o" },
          { label: t.guest, data: data.guest, backgroundColor: "#b5b5b5", stack: "o" },
        ],
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    });
  }

  async function loadOverview(params) {
    const form = document.getElementById("range-form");
    const target = document.getElementById("overview");
    target.setAttribute("aria-busy", "true");
    const response = await fetch(form.action + "?" + params.toString(), { headers: { Accept: "text/html" } });
    target.innerHTML = await response.text();
    target.removeAttribute("aria-busy");
    drawChart();
  }

  function setupRange() {
    const form = document.getElementById("range-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      loadOverview(new URLSearchParams(new FormData(form)));
    });
    form.querySelectorAll("button[data-days]").forEach((button) => {
      button.addEventListener("click", () => {
        const end = new Date(form.end.value || Date.now());
        const start = new Date(end);
        start.setDate(start.getDate() - Number(button.dataset.days) + 1);
        form.start.value = start.toISOString().slice(0, 10);
        form.requestSubmit();
      });
    });
  }

  async function pollSync() {
    const panel = document.getElementById("sync-panel");
    const summary = document.getElementById("sync-summary");
    const bar = document.getElementById("sync-progress");
    const error = document.getElementById("sync-error");
    const retry = document.getElementById("sync-retry");
    // The last complete sync the numbers on screen were computed after: when a newer one finishes, they are stale.
    let shownSync = panel.dataset.shownSync || "";
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      await fetch(panel.dataset.retryUrl, { method: "POST" });
      retry.disabled = false;
      tick();
    });
    async function tick() {
      let s;
      try {
        const response = await fetch(panel.dataset.statusUrl, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(response.status);
        s = await response.json();
      } catch (e) {
        setTimeout(tick, 5000);
        return;
      }
      const run = s.active || s.latest_backfill;
      const counts = fmt.format(s.customers) + " " + t.customers + ", " + fmt.format(s.orders) + " " + t.orders + ". ";
      error.hidden = true;
      bar.hidden = true;
      if (s.active) {
        const a = s.active;
        summary.textContent = (a.status === "queued" ? t.queued : t.running + " " + a.stage + " " +
          fmt.format(a.rows_read) + (a.rows_total ? " " + t.of + " " + fmt.format(a.rows_total) : "") + " " + t.rows) +
          (a.stalled ? " " + t.stalled : "");
        if (a.percent !== null) {
          bar.hidden = false;
          bar.firstElementChild.style.width = a.percent + "%";
        }
      } else {
        summary.textContent = counts + (s.last_good_sync_at ? t.last + " " + new Date(s.last_good_sync_at).toLocaleString() : t.never);
        if (run && run.status === "failed") {
          error.hidden = false;
          error.textContent = t.failed + " " + run.error;
        }
      }
      retry.hidden = !s.can_retry;
      if ((s.last_good_sync_at || "") !== shownSync && !s.active) {
        shownSync = s.last_good_sync_at || "";
        loadOverview(new URLSearchParams(new FormData(document.getElementById("range-form"))));
      }
      setTimeout(tick, s.active ? 1500 : 15000);
    }
    tick();
  }

  drawChart();
  setupRange();
  pollSync();
})();
