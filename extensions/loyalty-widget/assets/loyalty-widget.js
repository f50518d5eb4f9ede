/* Rewards launcher + panel, no framework (10 kB budget). Data: the app proxy (signed: shop + customer).
 * Labels: extension locales; the rest: the app. */
(function () {
  "use strict";
  var root = document.getElementById("loyalty-widget");
  if (!root || root.dataset.ready) return;
  var d = root.dataset;
  d.ready = "1";
  function q(sel) { return root.querySelector(sel); }
  var t = JSON.parse(q(".lw-i18n").textContent), launcher = q(".lw-launcher"), badge = q(".lw-launcher__badge"),
    panel = q(".lw-panel"), body = q(".lw-panel__body"), statusBox = q(".lw-panel__status"), loaded = false;
  var pendingKeys = {}; // a key per reward until answered: a double click or a retry spends once

  function request(path, o) {
    o = o || {};
    o.credentials = "same-origin";
    o.headers = Object.assign({ Accept: "application/json" }, o.headers || {});
    return fetch(d.proxy + "/" + path + "?locale=" + encodeURIComponent(d.locale || ""), o).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        data.httpStatus = r.status;
        if (!r.ok && !data.message) throw new Error(r.status);
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

  function busy(v) { body.setAttribute("aria-busy", v); }
  function muted(text, id) { return el("p", { class: "lw-muted", id: id, text: text }); }
  function list(a, c) { return el("ul", { class: "lw-list" + (c || "") }, a); }

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
    return section(t.rewards, [list(rewards.map(function (r) {
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
      body.appendChild(section(t.yourCodes, [list(state.codes.map(codeCard), " lw-codes")]));
    }
    var rewards = renderRewards(state.rewards || [], !!balance.customer);
    if (rewards) body.appendChild(rewards);
    if (programme.ways_to_earn.length) {
      var notes = [programme.holding_text, programme.expiry_text].filter(Boolean)
        .map(function (text) { return muted(text); });
      body.appendChild(section(t.waysToEarn, [list(programme.ways_to_earn.map(function (w) {
        return el("li", { class: "lw-way" }, [el("span", { text: w.title }), el("strong", { text: w.detail })]);
      }))].concat(notes)));
    }
    if (programme.tiers.length) {
      body.appendChild(section(t.tiers, [list(programme.tiers.map(function (tier) {
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
      body.appendChild(section(t.history, rows.length ? [list(rows)]
        : [muted(t.noHistory)]));
    }
    busy("false");
    showBadge(balance);
  }

  function showBadge(balance) {
    if (balance && balance.customer && balance.member) {
      badge.textContent = balance.balance_text;
      badge.hidden = false;
    }
  }

  function load() {
    busy("true");
    return request("widget").then(function (state) {
      loaded = true;
      render(state);
    }).catch(function () {
      var retry = el("button", { type: "button", class: "lw-link", text: t.retry });
      retry.addEventListener("click", load);
      body.textContent = "";
      body.append(muted(t.error), retry);
      busy("false");
    });
  }

  function newKey() {
    var b = crypto.getRandomValues(new Uint32Array(4));
    return Array.prototype.map.call(b, function (n) { return n.toString(36); }).join("-");
  }

  function cart(r) { // a capped percentage needs the cart subtotal (/cart.js, cents)
    return r.needs_cart ? fetch(d.cart + ".js").then(function (x) { return x.json(); }).then(function (c) {
      var s = c.items_subtotal_price;
      return s > 0 ? { cart_subtotal: (s / 100).toFixed(2), cart_currency: c.currency } : {};
    }).catch(function () { return {}; }) : Promise.resolve({});
  }

  function redeem(reward, button, attempt) {
    attempt = attempt || 0;
    var key = pendingKeys[reward.id] || (pendingKeys[reward.id] = newKey());
    button.disabled = true;
    button.textContent = t.redeeming;
    say("");
    function fail(message) {
      say(message || t.error, true);
      button.textContent = t.redeem;
      button.disabled = false;
    }
    cart(reward).then(function (c) {
      return request("redeem", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ reward_id: reward.id, idempotency_key: key }, c)) });
    }).then(function (result) {
      if (result.httpStatus === 202 && attempt < 8) {
        // Still issuing: ask again, same key.
        setTimeout(function () { redeem(reward, button, attempt + 1); }, 1000);
        return;
      }
      delete pendingKeys[reward.id];
      if (result.ok && result.code) {
        return load().then(function () {
          say(result.message);
          var apply = q('.lw-apply[data-code="' + result.code.code + '"]');
          if (apply) apply.focus();
        });
      }
      fail(result.message);
    }).catch(function () { fail(); }); // no answer: keep the key (pressing again cannot spend twice)
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    q(".lw-panel__close").focus();
    if (!loaded) load();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  q(".lw-panel__close").addEventListener("click", close);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) close();
  });

  // Customers: balance on the launcher, fetched when idle (guests: nothing until opened).
  if (d.customer) {
    var idle = window.requestIdleCallback || function (fn) { return setTimeout(fn, 1500); };
    idle(function () { request("balance").then(showBadge).catch(function () {}); });
  }
})();
