/*
 * webdial call button. Put on a merchant page:
 *   <script src="https://webdial.example/widget.js" data-merchant="m_…" data-link="l_…" data-customer="c-123"></script>
 * It renders a button; a click records the download, places the call and shows its progress and the
 * pages/volume/chat the agent pushes (customerSession subscription over graphql-transport-ws).
 * In embedded mode the other side is the call-center simulator, not real audio.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  var base = new URL(script.src).origin;
  var endpoint = base + '/graphql';
  var cfg = script.dataset;

  function gql(query, variables) {
    return fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: query, variables: variables }) })
      .then(function (r) { return r.json(); })
      .then(function (r) { if (r.errors) throw new Error(r.errors[0].extensions.code + ': ' + r.errors[0].message); return r.data; });
  }

  function subscribe(query, variables, onData) {
    var ws = new WebSocket(endpoint.replace(/^http/, 'ws'), 'graphql-transport-ws');
    ws.onopen = function () { ws.send(JSON.stringify({ type: 'connection_init', payload: {} })); };
    ws.onmessage = function (m) {
      var msg = JSON.parse(m.data);
      if (msg.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: query, variables: variables } }));
      if (msg.type === 'next' && msg.payload.data) onData(msg.payload.data);
      if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    };
    return ws;
  }

  var box = document.createElement('div');
  box.style.cssText = 'position:fixed;bottom:20px;right:20px;font:14px sans-serif;background:#fff;border:1px solid #ccc;border-radius:8px;padding:12px;box-shadow:0 2px 8px rgba(0,0,0,.2);z-index:99999;max-width:280px';
  var button = document.createElement('button');
  button.textContent = '📞 ' + (cfg.label || 'Call us');
  button.style.cssText = 'font-size:16px;padding:8px 14px;cursor:pointer';
  var status = document.createElement('div');
  status.style.marginTop = '8px';
  box.appendChild(button);
  box.appendChild(status);
  document.body.appendChild(box);

  var token = null;
  var ws = null;
  function show(text) { status.textContent = text; }

  button.onclick = function () {
    if (token) {
      gql('mutation($t: String!) { hangUp(callToken: $t) { state } }', { t: token }).catch(function (e) { show(e.message); });
      return;
    }
    show('Connecting…');
    gql('mutation($i: DownloadInput!) { recordDownload(input: $i) { callId callToken media { provider } } }', {
      i: { merchantId: cfg.merchant, linkId: cfg.link, customerId: cfg.customer || null, sessionId: cfg.session || null, pageUrl: location.href, referrer: document.referrer || null }
    }).then(function (d) {
      token = d.recordDownload.callToken;
      ws = subscribe('subscription($t: String!) { customerSession(callToken: $t) { kind state url volumePercent channelId text at } }', { t: token }, function (data) {
        var p = data.customerSession;
        if (p.kind === 'CALL_STATE') {
          show('Call ' + p.state.toLowerCase());
          if (p.state === 'TERMINATED') { token = null; button.textContent = '📞 ' + (cfg.label || 'Call us'); if (ws) ws.close(); }
        }
        if (p.kind === 'PAGE') { show('The agent suggests: ' + p.url); window.open(p.url, '_blank', 'noopener'); }
        if (p.kind === 'VOLUME') show('Volume ' + (p.volumePercent > 0 ? '+' : '') + p.volumePercent + ' %');
        if (p.kind === 'CHANNEL_OPENED') show('Chat channel ' + p.channelId + ' opened');
        if (p.kind === 'CHAT_MESSAGE') show('Agent: ' + p.text);
      });
      button.textContent = '⏹ Hang up';
      return gql('mutation($t: String!) { initiateCall(callToken: $t) { state } }', { t: token });
    }).catch(function (e) { token = null; show(e.message); });
  };
})();
