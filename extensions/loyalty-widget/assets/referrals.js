/* Refer a friend: launcher + panel; no framework (app-block budget 10 kB). Data via the app proxy
 * (/apps/loyalty/referrals/me, signed with shop + logged-in customer). Labels: extension locales; offer,
 * reward and status texts: the app, in the storefront's language. Also records ?ref=CODE on the cart. */
(function () {
  "use strict";
  var root = document.getElementById("referral-widget");
  if (!root || root.dataset.ready) return;
  var d = root.dataset;
  d.ready = "1";
  var t = JSON.parse(root.querySelector(".rw-i18n").textContent);
  var launcher = root.querySelector(".rw-launcher");
  var panel = root.querySelector(".rw-panel");
  var body = root.querySelector(".rw-panel__body");
  var statusBox = root.querySelector(".rw-panel__status");
  var loaded = false;

  // A friend's visit through a link (?ref=CODE): the cart attribute `ref`, which the order carries.
  var ref = (new URLSearchParams(location.search).get("ref") || "").trim();
  if (/^[A-Za-z0-9-]{4,40}$/.test(ref)) {
    fetch(d.cart + "/update.js", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ attributes: { ref: ref.toUpperCase() } }),
    }).then(function (r) { if (r.ok) root.dataset.ref = ref.toUpperCase(); }).catch(function () {});
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (attrs[k] != null) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  var sections = 0;
  function section(title, children, extraClass) {
    var id = "rw-s" + (++sections);
    return el("section", { class: "rw-section " + (extraClass || ""), "aria-labelledby": id },
      [el("h3", { id: id, class: "rw-section__title", text: title })].concat(children));
  }

  function muted(text) { return el("p", { class: "rw-muted", text: text }); }

  function say(message, isError) {
    statusBox.textContent = message || "";
    statusBox.classList.toggle("rw-panel__status--error", !!isError);
  }

  function offers(state) {
    var you = (state.holding_days ? t.when : t.whenPaid).replace("{reward}", state.referrer_reward)
      .replace("{days}", state.holding_days);
    return section(t.friendGets, [
      el("p", { class: "rw-offer rw-offer--friend", text: state.friend_offer }),
      el("h3", { class: "rw-section__title", text: t.youGet }),
      el("p", { class: "rw-offer rw-offer--you", text: you }),
    ], "rw-offers");
  }

  function copy(link, input, button) {
    function done() {
      button.textContent = t.copied;
      button.dataset.copied = "true";
      say(t.copied);
      setTimeout(function () { button.textContent = t.copy; delete button.dataset.copied; }, 4000);
    }
    function fallback() {
      input.focus();
      input.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      if (ok) done(); else say(t.copyFailed, true);
    }
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(link).then(done, fallback);
    else fallback();
  }

  function shareLinks(state) {
    var url = encodeURIComponent(state.link), text = state.share_text || state.friend_offer;
    var both = encodeURIComponent(text + " " + state.link);
    var links = [
      [t.email, "mailto:?subject=" + encodeURIComponent(state.friend_offer) + "&body=" + both, "email"],
      ["WhatsApp", "https://wa.me/?text=" + both, "whatsapp"],
      ["X", "https://twitter.com/intent/tweet?text=" + encodeURIComponent(text) + "&url=" + url, "x"],
      ["Facebook", "https://www.facebook.com/sharer/sharer.php?u=" + url, "facebook"],
    ];
    return el("p", { class: "rw-share-links", hidden: "" }, links.map(function (l) {
      return el("a", { class: "rw-link", href: l[1], target: l[2] === "email" ? null : "_blank",
        rel: "noopener noreferrer", "data-share": l[2], text: l[0] });
    }));
  }

  function linkSection(state) {
    var input = el("input", { class: "rw-input", id: "rw-link", type: "text", readonly: "", value: state.link });
    input.addEventListener("focus", function () { input.select(); });
    var copyButton = el("button", { type: "button", class: "rw-button rw-copy", text: t.copy });
    copyButton.addEventListener("click", function () { copy(state.link, input, copyButton); });
    var shareButton = el("button", { type: "button", class: "rw-button rw-button--ghost rw-share", text: t.share });
    var more = shareLinks(state);
    shareButton.addEventListener("click", function () {
      function showLinks() { more.hidden = false; more.querySelector("a").focus(); }
      var data = { title: state.friend_offer, text: state.share_text || state.friend_offer, url: state.link };
      if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
        navigator.share(data).catch(function (e) { if (!e || e.name !== "AbortError") showLinks(); });
      } else showLinks();
    });
    return section(t.yourLink, [
      el("label", { class: "rw-visually-hidden", for: "rw-link", text: t.yourLink }), input,
      el("p", { class: "rw-actions" }, [copyButton, shareButton]), more,
    ], "rw-link-section");
  }

  function referralList(rows) {
    if (!rows.length) return section(t.yourReferrals, [muted(t.none)], "rw-referrals");
    return section(t.yourReferrals, [el("ul", { class: "rw-list" }, rows.map(function (r) {
      return el("li", { class: "rw-referral", "data-status": r.status }, [
        el("span", {}, [el("strong", { text: r.friend || "—" }), muted(r.date)]),
        el("span", { class: "rw-status rw-status--" + r.status, text: r.status_label }),
      ]);
    }))], "rw-referrals");
  }

  function render(state) {
    body.textContent = "";
    if (!state.enabled) {
      body.appendChild(muted(t.off));
    } else {
      body.appendChild(offers(state));
      if (state.message) say(state.message);
      if (state.link) {
        body.appendChild(linkSection(state));
        body.appendChild(referralList(state.referrals || []));
      } else if (!state.logged_in) {
        body.appendChild(section(t.yourLink, [
          el("p", { text: t.guest }),
          el("p", { class: "rw-actions" }, [
            el("a", { class: "rw-button", href: d.login, text: t.logIn }),
            el("a", { class: "rw-link", href: d.register, text: t.join }),
          ]),
        ], "rw-guest"));
      }
    }
    body.setAttribute("aria-busy", "false");
  }

  function load() {
    body.setAttribute("aria-busy", "true");
    return fetch(d.proxy + "/referrals/me?locale=" + encodeURIComponent(d.locale || ""), {
      credentials: "same-origin", headers: { Accept: "application/json" },
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (state) {
      loaded = true;
      render(state);
    }).catch(function () {
      var retry = el("button", { type: "button", class: "rw-link", text: t.retry });
      retry.addEventListener("click", load);
      body.textContent = "";
      body.append(muted(t.error), retry);
      body.setAttribute("aria-busy", "false");
    });
  }

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    panel.querySelector(".rw-panel__close").focus();
    if (!loaded) load();
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  panel.querySelector(".rw-panel__close").addEventListener("click", close);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) close();
  });
})();
