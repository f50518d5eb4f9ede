// Campaign pages: forms POST through fetch (App Bridge adds the session token), downloads and progress.
(function () {
  "use strict";
  function showErrors(form, errors) {
    const box = form.querySelector("[data-errors]") || document.querySelector("[data-errors]");
    if (!box) { alert(errors.join("\n")); return; }
    box.textContent = errors.join(" ");
    box.hidden = false;
  }
  document.querySelectorAll("form[data-post]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      try {
        const response = await fetch(form.action, { method: "POST", body: new FormData(form) });
        const data = await response.json();
        if (data.redirect) { window.location.assign(data.redirect + window.location.search); return; }
        if (data.errors) showErrors(form, data.errors);
        else if (data.message) showErrors(form, [data.message]);
      } catch (err) {
        showErrors(form, [String(err)]);
      } finally {
        if (button) button.disabled = false;
      }
    });
  });
  document.querySelectorAll("a[data-download]").forEach((link) => {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const response = await fetch(link.href);
      const url = URL.createObjectURL(await response.blob());
      const a = document.createElement("a");
      a.href = url; a.download = link.dataset.download; a.click();
      URL.revokeObjectURL(url);
    });
  });
  const panel = document.querySelector("[data-progress-url]");
  if (panel) {
    const poll = async () => {
      const data = await (await fetch(panel.dataset.progressUrl)).json();
      panel.querySelector(".progress__bar").style.width = data.percent + "%";
      panel.querySelector("[data-progress-text]").textContent =
        data.active + " / " + data.requested + (data.failed ? " (" + data.failed + " ✕)" : "");
      if (!data.finished) setTimeout(poll, 2000);
    };
    poll();
  }
})();
