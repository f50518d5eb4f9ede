/*
 * devshop App Bridge: a small, dependency-free stand-in for Shopify's
 * https://cdn.shopify.com/shopifycloud/app-bridge.js, served by the development store at /cdn/app-bridge.js.
 *
 * An app page includes it the same way as the real one:
 *   <script src="http://127.0.0.1:8001/cdn/app-bridge.js" data-api-key="CLIENT_ID"></script>
 *
 * It provides what embedded apps use from App Bridge:
 *   shopify.idToken()        Promise<string>: a fresh session token. The app runs in an iframe of the
 *                            devshop admin, which mints tokens; we ask it with postMessage.
 *   shopify.config           {apiKey, shop, host, locale}
 *   shopify.toast.show(msg)  a toast rendered by the admin frame
 *   shopify.loading(bool)    the admin's loading bar
 *   window.fetch             same-origin requests get `Authorization: Bearer <fresh token>` and are retried
 *                            once when the answer carries `X-Shopify-Retry-Invalid-Session-Request: 1`
 *   window.open(url, '_top') navigates the admin window (a cross-origin iframe may not do that itself)
 *   bounce pages             on a URL with `shopify-reload`, get a token and go to that URL + id_token
 *
 * The admin is the origin this script was served from: the script and the admin frame both come from
 * devshop, so messages are only sent to, and only accepted from, that origin.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var apiKey = (script && script.getAttribute('data-api-key')) || '';
  var adminOrigin = script ? new URL(script.src, window.location.href).origin : '';
  var params = new URLSearchParams(window.location.search);
  var embedded = window.top !== window.self;
  var TOKEN_TIMEOUT_MS = 10000;

  // shop, host and locale arrive on the first (signed) load only; keep them for in-app navigations.
  function remembered(name) {
    var value = params.get(name);
    try {
      if (value) { window.sessionStorage.setItem('shopify:' + name, value); }
      else { value = window.sessionStorage.getItem('shopify:' + name); }
    } catch (e) { /* storage can be disabled in third-party iframes; the URL value is enough */ }
    return value || '';
  }

  var config = { apiKey: apiKey, shop: remembered('shop'), host: remembered('host'), locale: remembered('locale') || 'en' };

  function post(message) {
    message.source = 'devshop-app-bridge';
    message.apiKey = apiKey;
    window.parent.postMessage(message, adminOrigin);
  }

  // --- session tokens -------------------------------------------------------------------------------------
  var pending = {};
  var sequence = 0;

  window.addEventListener('message', function (event) {
    // Only the admin window that embeds us may answer.
    if (event.origin !== adminOrigin || event.source !== window.parent) { return; }
    var data = event.data || {};
    if (data.source !== 'devshop-admin' || data.type !== 'idToken' || !pending[data.id]) { return; }
    var request = pending[data.id];
    delete pending[data.id];
    if (data.token) { request.resolve(data.token); } else { request.reject(new Error('App Bridge: ' + (data.error || 'no session token'))); }
  });

  function idToken() {
    if (!embedded) {
      return Promise.reject(new Error('App Bridge: idToken() works only inside the Shopify admin'));
    }
    return new Promise(function (resolve, reject) {
      var id = ++sequence;
      pending[id] = { resolve: resolve, reject: reject };
      post({ type: 'idToken', id: id });
      setTimeout(function () {
        if (pending[id]) { delete pending[id]; reject(new Error('App Bridge: the admin sent no session token')); }
      }, TOKEN_TIMEOUT_MS);
    });
  }

  // --- authenticated fetch --------------------------------------------------------------------------------
  var originalFetch = window.fetch.bind(window);

  window.fetch = function (input, init) {
    var request = new Request(input, init);
    var sameOrigin = new URL(request.url, window.location.href).origin === window.location.origin;
    if (!embedded || !sameOrigin || request.headers.has('Authorization')) {
      return originalFetch(request);
    }
    var retry = request.clone(); // a body can be read once: keep a copy for the retry
    return idToken().then(function (token) {
      request.headers.set('Authorization', 'Bearer ' + token);
      return originalFetch(request);
    }).then(function (response) {
      if (response.headers.get('X-Shopify-Retry-Invalid-Session-Request') !== '1') { return response; }
      return idToken().then(function (token) {
        retry.headers.set('Authorization', 'Bearer ' + token);
        return originalFetch(retry);
      });
    });
  };

  // --- top-level navigation -------------------------------------------------------------------------------
  var originalOpen = window.open;
  window.open = function (url, target) {
    if (embedded && (target === '_top' || target === '_parent')) {
      post({ type: 'redirect', url: new URL(String(url), window.location.href).toString() });
      return null;
    }
    return originalOpen.apply(window, arguments);
  };

  // --- the shopify global ---------------------------------------------------------------------------------
  window.shopify = {
    config: config,
    environment: { embedded: embedded, mobile: false, pos: false },
    idToken: idToken,
    toast: {
      show: function (message, options) {
        post({ type: 'toast', message: String(message), isError: !!(options && options.isError),
               duration: (options && options.duration) || 5000 });
      },
      hide: function () { post({ type: 'toast', message: '' }); }
    },
    loading: function (on) { post({ type: 'loading', on: on !== false }); }
  };

  // --- bounce page (shopifyapp's app_home_patch_id_token) -------------------------------------------------
  var reload = params.get('shopify-reload');
  if (reload && embedded) {
    var target = new URL(reload, window.location.href);
    if (target.origin === window.location.origin) { // never bounce to another site
      idToken().then(function (token) {
        target.searchParams.set('id_token', token);
        window.location.replace(target.toString());
      });
    }
  } else if (!embedded && config.shop && params.get('embedded') === '1' && adminOrigin) {
    // An embedded app URL opened on its own: go to the admin that embeds it, as App Bridge does.
    window.location.replace(adminOrigin + '/store/' + config.shop + '/admin/apps/' + apiKey + window.location.pathname);
  }
})();
