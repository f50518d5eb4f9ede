// Referral admin pages: the conversion chart from its JSON and the CSV download (fetch + Blob: a plain
// link inside the admin iframe would carry no session token). Forms use static/loyalty/admin.js.
(function () {
  "use strict";
  const lang = document.documentElement.lang || undefined;
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const node = document.getElementById(canvas.dataset.chart);
    if (!node || typeof Chart === "undefined") return;
    const spec = JSON.parse(node.textContent);
    const palette = ["#8a8a8a", "#8051ff", "#005bd3"];
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets.map((d, i) => ({ label: d.label, data: d.data, backgroundColor: palette[i % palette.length] })) },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, ticks: { callback: (v) => new Intl.NumberFormat(lang).format(v) } } } },
    });
  });
  document.querySelectorAll("[data-csv]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const response = await fetch(button.dataset.csv, { headers: { Accept: "text/csv" } });
        if (!response.ok) throw new Error(String(response.status));
        const link = document.createElement("a");
        link.href = URL.createObjectURL(await response.blob());
        link.download = "referral-conversion.csv";
        document.body.appendChild(link);
        link.click();
        setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      } finally { button.disabled = false; }
    });
  });
})();
