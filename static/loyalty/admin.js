// Loyalty admin pages: forms post with fetch (App Bridge adds the session token to same-origin requests),
// errors appear next to their fields in red and stay until corrected; the settings page previews points live.
(function () {
  "use strict";
  function showErrors(form, errors) {
    form.querySelectorAll("[data-error-for]").forEach((el) => { el.hidden = true; el.textContent = ""; });
    const general = form.querySelector(".js-form-error");
    const rest = [];
    Object.entries(errors || {}).forEach(([name, list]) => {
      const target = form.querySelector(`[data-error-for$="${name}"]`);
      const text = list.map((e) => e.message).join(" ");
      if (target) { target.textContent = text; target.hidden = false; } else { rest.push(text); }
    });
    if (general) { general.textContent = rest.join(" "); general.hidden = rest.length === 0; }
  }
  async function post(url, body) {
    const response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" } });
    return response.json();
  }
  document.querySelectorAll(".js-fetch-form").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;  // one submission at a time
      try {
        const result = await post(form.action, new FormData(form));
        showErrors(form, result.ok ? {} : result.errors);
        const ok = form.querySelector(".js-form-ok");
        if (result.ok && ok) { ok.textContent = result.message; ok.hidden = false; }
        if (result.ok && result.reload) window.location.reload();
      } finally { if (button) button.disabled = false; }
    });
  });
  document.querySelectorAll(".js-post").forEach((button) => {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const result = await post(button.dataset.url, new FormData());
      if (result.ok) window.location.reload();
    });
  });
  const programme = document.getElementById("programme-form");
  const preview = document.getElementById("preview");
  if (programme && preview) {
    let timer = null;
    const refresh = async () => {
      const body = new FormData(programme);
      preview.querySelectorAll("input").forEach((input) => body.append(input.name, input.value));
      const result = await post(programme.dataset.previewUrl, body);
      if (!result.ok) return;
      document.getElementById("preview-points").textContent = result.points;
      document.getElementById("preview-amount").textContent = result.amount;
      document.getElementById("preview-days").textContent = result.holding_days;
    };
    [programme, preview].forEach((el) => el.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); }));
  }
})();
