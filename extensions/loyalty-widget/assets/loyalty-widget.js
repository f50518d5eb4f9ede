/* Rewards launcher + panel; no framework (Shopify's app-block budget is 10 kB). Data via the app proxy,
 * which signs each request with shop + logged-in customer. Labels: extension locales; the rest: the app. */
(function () {
  "use strict";
  var root = document.getElementById("loyalty-widget");
  if (!root || root.dataset.ready) return;
  var d = root.dataset;
  d.ready = "1";
  var t = JSON.parse(root.querySelector(".lw-i18n").textContent);
  var launcher = root.querySelector(".lw-launcher");
  var badge = root.querySelector(".lw-launcher__badge");
  var panel = root.querySelector(".lw-panel");
  var body = root.querySelector(".lw-panel__body");
  var statusBox = root.querySelector(".lw-panel__status");
  var loaded = false;
  // One idempotency key per reward until answered: a double click or a retry spends once.
  var pendingKeys = {};

  function request(path, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    return fetch(d.proxy + "/" + path + "?locale=" + encodeURIComponent(d.locale || ""), options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        data.httpStatus = response.status;
        if (!response.ok && !data.message) throw new Error(response.status);
        return data;
      });
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (attrs[k] != null && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  var sections = 0;
  function section(title, children, extraClass) {
    var id = "lw-s" + (++sections);
    return el("section", { class: "lw-section " + (extraClass || ""), "aria-labelledby": id },
      [el("h3", { id: id, class: "lw-section__title", text: title })].concat(children));
  }

  function muted(text, id) { return el("p", { class: "lw-muted", id: id, text: text }); }

  function say(message, isError) {
    statusBox.textContent = message || "";
    statusBox.classList.toggle("lw-panel__status--error", !!isError);
  }

  function applyHref(code) {
    return d.origin + code.apply_path + "?redirect=" + encodeURIComponent(d.cart || "/cart");
  }

  function codeCard(code) {
    return el("li", { class: "lw-code", "data-status": code.status }, [
      el("div", { class: "lw-code__value", text: code.code }),
      muted(code.reward + " · " + code.description),
      muted(code.status_text + (code.expires_text ? " · " + code.expires_text : "")),
      code.apply_path ? el("a", { class: "lw-button lw-apply", href: applyHref(code), "data-code": code.code,
        text: t.applyToCart }) : null,
    ]);
  }

  function renderBalance(balance) {
    if (!balance.customer) {
      return section(t.yourPoints, [
        el("p", { text: balance.message }),
        el("p", { class: "lw-actions" }, [
          el("a", { class: "lw-button", href: d.register, text: t.join }),
          el("a", { class: "lw-link", href: d.login, text: t.logIn }),
        ]),
      ], "lw-balance");
    }
    var items = [
      el("p", { class: "lw-balance__points", "data-points": String(balance.balance), text: balance.balance_text }),
    ];
    if (balance.pending_text) items.push(el("p", { class: "lw-muted lw-balance__pending", text: balance.pending_text }));
    if (balance.message) items.push(muted(balance.message));
    if (balance.tier) items.push(el("p", { class: "lw-tier", text: t.tier + ": " + balance.tier.name }));
    if (balance.progress) {
      items.push(el("div", {
        class: "lw-progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
        "aria-valuenow": String(balance.progress.percent), "aria-label": balance.progress.text,
      }, [el("span", { style: "width:" + balance.progress.percent + "%" })]));
      items.push(muted(balance.progress.text));
    }
    return section(t.yourPoints, items, "lw-balance");
  }

  function renderRewards(rewards, isCustomer) {
    if (!rewards.length) return null;
    return section(t.rewards, [el("ul", { class: "lw-list" }, rewards.map(function (r) {
      var action = null;
      if (isCustomer) {
        action = el("button", {
          type: "button", class: "lw-button lw-redeem", "data-reward": String(r.id),
          disabled: r.redeemable ? null : "disabled", "aria-describedby": r.reason ? "lw-reason-" + r.id : null,
          text: t.redeem,
        });
        action.addEventListener("click", function () { redeem(r, action); });
      }
      return el("li", { class: "lw-reward" }, [
        el("div", {}, [
          el("strong", { text: r.name }),
          muted(r.description),
          muted(r.points_text),
          r.reason ? muted(r.reason, "lw-reason-" + r.id) : null,
        ]),
        action,
      ]);
    }))]);
  }

  function render(state) {
    var balance = state.balance, programme = state.programme;
    body.textContent = "";
    body.appendChild(renderBalance(balance));
    if (programme.paused_message) say(programme.paused_message);
    if (state.codes && state.codes.length) {
      body.appendChild(section(t.yourCodes, [el("ul", { class: "lw-list lw-codes" }, state.codes.map(codeCard))]));
    }
    var rewards = renderRewards(state.rewards || [], !!balance.customer);
    if (rewards) body.appendChild(rewards);
    if (programme.ways_to_earn.length) {
      var notes = [programme.holding_text, programme.expiry_text].filter(Boolean)
        .map(function (text) { return muted(text); });
      body.appendChild(section(t.waysToEarn, [el("ul", { class: "lw-list" }, programme.ways_to_earn.map(function (w) {
        return el("li", { class: "lw-way" }, [el("span", { text: w.title }), el("strong", { text: w.detail })]);
      }))].concat(notes)));
    }
    if (programme.tiers.length) {
      body.appendChild(section(t.tiers, [el("ul", { class: "lw-list" }, programme.tiers.map(function (tier) {
        return el("li", { class: "lw-tier-row" }, [
          el("strong", { text: tier.name }),
          muted([tier.threshold_text].concat(tier.perks).join(" · ")),
        ]);
      }))]));
    }
    if (balance.customer) {
      var rows = (state.history || []).map(function (h) {
        return el("li", { class: "lw-history" + (h.pending ? " lw-history--pending" : "") }, [
          el("span", { text: h.date + " · " + h.label + (h.pending ? " (" + t.pending + ")" : "") }),
          el("strong", { text: h.points_text }),
        ]);
      });
      body.appendChild(section(t.history, rows.length ? [el("ul", { class: "lw-list" }, rows)]
        : [muted(t.noHistory)]));
    }
    body.setAttribute("aria-busy", "false");
    showBadge(balance);
  }

  function showBadge(balance) {
    if (balance && balance.customer && balance.member) {
      badge.textContent = balance.balance_text;
      badge.hidden = false;
    }
  }

  function load() {
    body.setAttribute("aria-busy", "true");
    return request("widget").then(function (state) {
      loaded = true;
      render(state);
    }).catch(function () {
      var retry = el("button", { type: "button", class: "lw-link", text: t.retry });
      retry.addEventListener("click", load);
      body.textContent = "";
      body.append(muted(t.error), retry);
      body.setAttribute("aria-busy", "false");
    });
  }

  function newKey() {
    var b = crypto.getRandomValues(new Uint32Array(4));
    return Array.prototype.map.call(b, function (n) { return n.toString(36); }).join("-");
  }

  function redeem(reward, button, attempt) {
    attempt = attempt || 0;
    var key = pendingKeys[reward.id] || (pendingKeys[reward.id] = newKey());
    button.disabled = true;
    button.textContent = t.redeeming;
    say("");
    request("redeem", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ reward_id: reward.id, idempotency_key: key }),
    }).then(function (result) {
      if (result.httpStatus === 202 && attempt < 8) {
        // The first request with this key is still issuing: ask again, same key.
        setTimeout(function () { redeem(reward, button, attempt + 1); }, 1000);
        return;
      }
      delete pendingKeys[reward.id];
      if (result.ok && result.code) {
        return load().then(function () {
          say(result.message);
          var apply = root.querySelector('.lw-apply[data-code="' + result.code.code + '"]');
          if (apply) apply.focus();
        });
      }
      say(result.message || t.error, true);
      button.textContent = t.redeem;
      button.disabled = false;
    }).catch(function () {
      // No answer: keep the key, so pressing again cannot spend twice.
      say(t.error, true);
      button.textContent = t.redeem;
      button.disabled = false;
    });
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    panel.querySelector(".lw-panel__close").focus();
    if (!loaded) load();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  panel.querySelector(".lw-panel__close").addEventListener("click", close);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) close();
  });

  // Logged-in customers: balance on the launcher, fetched when idle (guests: no request until opened).
  if (d.customer) {
    var idle = window.requestIdleCallback || function (fn) { return setTimeout(fn, 1500); };
    idle(function () { request("balance").then(showBadge).catch(function () {}); });
  }
})();
