/*! zia web chat widget. Embed: <script src="https://YOUR-ZIA/widget.js" data-tenant="slug" async></script> */
(function () {
  'use strict';
  var script =
    document.currentScript ||
    document.querySelector('script[data-tenant][src*="widget.js"]');
  if (!script) return;
  var tenant = script.getAttribute('data-tenant');
  if (!tenant || window.__ziaWidget && window.__ziaWidget[tenant]) return;
  (window.__ziaWidget = window.__ziaWidget || {})[tenant] = true;

  var base = new URL(script.src, location.href).origin;
  var q = '?tenant=' + encodeURIComponent(tenant);
  var storeKey = 'zia:' + tenant + ':';
  var MAX_STORED = 50;

  function load(key, fallback) {
    try {
      var v = localStorage.getItem(storeKey + key);
      return v === null ? fallback : JSON.parse(v);
    } catch (e) {
      return fallback;
    }
  }
  function save(key, value) {
    try {
      localStorage.setItem(storeKey + key, JSON.stringify(value));
    } catch (e) {
      /* private mode or full storage: the chat still works for this page view */
    }
  }
  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'v' + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  var visitorId = load('visitor', null) || randomId();
  save('visitor', visitorId);
  var conversationId = load('conversation', null);
  var transcript = load('transcript', []);

  var CSS =
    ':host{all:initial}' +
    '*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}' +
    '.launcher{position:fixed;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;' +
    'color:#fff;background:var(--zia-color);font-size:15px;font-weight:600;cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.2)}' +
    '.launcher:focus-visible,.send:focus-visible,.close:focus-visible,.link:focus-visible{outline:3px solid #222;outline-offset:2px}' +
    '.right{right:20px}.left{left:20px}' +
    '.panel{position:fixed;bottom:84px;z-index:2147483001;width:370px;max-width:calc(100vw - 24px);height:560px;' +
    'max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;color:#1b1b1b;border-radius:14px;' +
    'box-shadow:0 10px 40px rgba(0,0,0,.25);overflow:hidden}' +
    '.panel[hidden]{display:none}' +
    'header{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--zia-color);color:#fff}' +
    'header img{width:32px;height:32px;border-radius:50%;object-fit:cover;background:#fff}' +
    'header h2{flex:1;margin:0;font-size:16px;font-weight:600}' +
    '.close{border:0;background:transparent;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:4px 8px}' +
    '.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}' +
    '.msg{max-width:85%;padding:9px 12px;border-radius:12px;font-size:14px;line-height:1.45;white-space:pre-wrap;word-wrap:break-word}' +
    '.bot{align-self:flex-start;background:#fff;border:1px solid #e3e5e8}' +
    '.user{align-self:flex-end;background:var(--zia-color);color:#fff}' +
    '.user a{color:#fff}' +
    '.operator{align-self:flex-start;background:#fff8e6;border:1px solid #ecd9a6}' +
    '.who{display:block;font-size:11px;font-weight:700;color:#6b5516;margin-bottom:2px}' +
    '.notice{align-self:center;font-size:13px;color:#8a1c1c;background:#fdecec;border-radius:8px;padding:8px 10px}' +
    '.sources{margin-top:6px;font-size:12px;opacity:.85}.sources a{color:inherit;margin-right:8px}' +
    '.pay{display:inline-block;margin-top:8px;padding:9px 14px;border-radius:8px;background:var(--zia-color);color:#fff;' +
    'text-decoration:none;font-weight:600}' +
    'form.composer{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e5e8;background:#fff}' +
    'textarea{flex:1;resize:none;border:1px solid #c9ccd1;border-radius:8px;padding:9px;font-size:14px;height:42px;max-height:120px}' +
    '.send{border:0;border-radius:8px;padding:0 14px;background:var(--zia-color);color:#fff;font-weight:600;cursor:pointer}' +
    '.send[disabled]{opacity:.5;cursor:default}' +
    '.link{border:0;background:none;color:var(--zia-color);font-size:13px;cursor:pointer;padding:6px 14px;text-align:left}' +
    'form.lead{display:flex;flex-direction:column;gap:6px;padding:10px 14px;border-top:1px solid #e3e5e8;background:#fff}' +
    'form.lead[hidden]{display:none}' +
    'form.lead label{font-size:12px;color:#444}' +
    'form.lead input{border:1px solid #c9ccd1;border-radius:6px;padding:7px;font-size:14px;width:100%}' +
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}' +
    '@media (max-width:480px){.panel{inset:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0;bottom:0}}';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) {
      node.appendChild(c);
    });
    return node;
  }

  /** Text with links made clickable, built as DOM nodes: model or user text never becomes HTML. */
  function richText(node, text) {
    node.textContent = '';
    var parts = String(text).split(/(https?:\/\/[^\s<>"')\]]+)/g);
    parts.forEach(function (part, i) {
      if (i % 2 === 1) {
        var a = el('a', { href: part, target: '_blank', rel: 'noopener noreferrer', text: part });
        node.appendChild(a);
      } else if (part) node.appendChild(document.createTextNode(part.replace(/\*\*(.+?)\*\*/g, '$1')));
    });
  }

  function start(config) {
    var host = el('div', { id: 'zia-widget-' + tenant });
    document.body.appendChild(host);
    var root = host.attachShadow({ mode: 'open' });
    root.appendChild(el('style', { text: CSS }));
    host.style.setProperty('--zia-color', config.branding.color);
    var side = config.branding.position === 'bottom-left' ? 'left' : 'right';

    var launcher = el('button', {
      class: 'launcher ' + side,
      type: 'button',
      'aria-haspopup': 'dialog',
      'aria-expanded': 'false',
      'aria-controls': 'zia-panel',
      text: config.branding.launcher_text,
    });
    var title = el('h2', { id: 'zia-title', text: config.branding.title });
    var closeBtn = el('button', { class: 'close', type: 'button', 'aria-label': 'Close chat', text: '×' });
    var headerChildren = [];
    if (config.branding.avatar_url) headerChildren.push(el('img', { src: config.branding.avatar_url, alt: '' }));
    headerChildren.push(title, closeBtn);
    var log = el('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions text' });
    var input = el('textarea', { id: 'zia-input', rows: '1', maxlength: '4000', placeholder: 'Type your message…', 'aria-label': 'Message' });
    var send = el('button', { class: 'send', type: 'submit', text: 'Send' });
    var composer = el('form', { class: 'composer' }, [input, send]);
    var panelChildren = [el('header', {}, headerChildren), log];

    var leadForm;
    if (config.lead && config.lead.form_enabled) {
      var toggle = el('button', { class: 'link', type: 'button', 'aria-expanded': 'false', text: 'Leave your contact details' });
      leadForm = el('form', { class: 'lead', hidden: '' });
      config.lead.fields.forEach(function (f) {
        var id = 'zia-lead-' + f.name;
        leadForm.appendChild(el('label', { for: id, text: f.label + (f.required ? ' *' : '') }));
        var attrs = { id: id, name: f.name, type: f.type, autocomplete: f.name === 'whatsapp' ? 'tel' : f.name };
        if (f.required) attrs.required = '';
        leadForm.appendChild(el('input', attrs));
      });
      leadForm.appendChild(el('button', { class: 'send', type: 'submit', text: 'Send details' }));
      toggle.addEventListener('click', function () {
        var open = leadForm.hasAttribute('hidden');
        if (open) leadForm.removeAttribute('hidden');
        else leadForm.setAttribute('hidden', '');
        toggle.setAttribute('aria-expanded', String(open));
        if (open) leadForm.querySelector('input').focus();
      });
      leadForm.addEventListener('submit', function (e) {
        e.preventDefault();
        submitLead(leadForm, toggle);
      });
      panelChildren.push(toggle, leadForm);
    }
    // "Talk to a person" when the tenant takes handoffs: the request goes as the visitor's message, so
    // the conversation shows it and the bot answers with what happens next.
    var withPerson = false; // waiting for a person, or the team has the conversation (bot paused)
    var humanBtn = null;
    function showHumanButton() {
      if (!humanBtn) return;
      if (withPerson) humanBtn.setAttribute('hidden', '');
      else humanBtn.removeAttribute('hidden');
    }
    if (config.handoff && config.handoff.enabled) {
      humanBtn = el('button', { class: 'link human', type: 'button', text: 'Talk to a person' });
      humanBtn.addEventListener('click', function () {
        if (send.disabled) return;
        var text = "I'd like to talk to a person, please.";
        addMessage('user', text);
        remember('user', text);
        ask(text);
      });
      panelChildren.push(humanBtn);
    }
    panelChildren.push(composer);
    var panel = el('div', { id: 'zia-panel', class: 'panel ' + side, role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'zia-title', hidden: '' }, panelChildren);
    root.appendChild(launcher);
    root.appendChild(panel);

    function addMessage(role, text, extra) {
      var node = el('div', { class: 'msg ' + (role === 'user' ? 'user' : role === 'operator' ? 'operator' : 'bot') });
      if (role === 'operator') {
        // A person from the team, not the bot: labelled, so the visitor can tell them apart.
        node.appendChild(el('span', { class: 'who', text: (extra && extra.label) || 'Team' }));
        var body = el('span', {});
        richText(body, text);
        node.appendChild(body);
      } else richText(node, text);
      if (extra && extra.checkout_url) addPayButton(node, extra.checkout_url);
      if (extra && extra.sources) addSources(node, extra.sources);
      log.appendChild(node);
      log.scrollTop = log.scrollHeight;
      return node;
    }
    function addPayButton(node, url) {
      node.appendChild(document.createElement('br'));
      node.appendChild(el('a', { class: 'pay', href: url, target: '_blank', rel: 'noopener noreferrer', text: 'Pay securely' }));
    }
    // The pages an answer came from (knowledge base): links for web pages, names for uploaded files.
    function addSources(node, sources) {
      if (!sources || !sources.length) return;
      var list = el('div', { class: 'sources', text: 'Sources: ' });
      sources.forEach(function (s) {
        var web = typeof s.url === 'string' && /^https?:\/\//i.test(s.url);
        list.appendChild(web ? el('a', { href: s.url, target: '_blank', rel: 'noopener noreferrer', text: s.title || s.url }) : el('span', { text: (s.title || '') + ' ' }));
      });
      node.appendChild(list);
    }
    function notice(text) {
      var node = el('div', { class: 'notice', role: 'alert', text: text });
      log.appendChild(node);
      log.scrollTop = log.scrollHeight;
    }
    function remember(role, text, extra) {
      transcript.push({ role: role, text: text, checkout_url: extra && extra.checkout_url, label: extra && extra.label, sources: extra && extra.sources });
      if (transcript.length > MAX_STORED) transcript = transcript.slice(-MAX_STORED);
      save('transcript', transcript);
    }

    if (transcript.length === 0) addMessage('bot', config.greeting);
    else transcript.forEach(function (m) {
      addMessage(m.role, m.text, m);
    });
    showHumanButton();

    // An operator's reply (handoff) arrives outside any turn: a stream on the open conversation brings
    // it the moment it is stored (and what came while the panel was closed); the browser reconnects it.
    var operatorAfter = load('operator_after', null);
    var stream = null;
    function openStream() {
      if (stream || !conversationId || !window.EventSource || panel.hasAttribute('hidden')) return;
      var url = base + '/v1/chat/operator-stream' + q + '&conversation_id=' + encodeURIComponent(conversationId);
      stream = new EventSource(operatorAfter ? url + '&after=' + encodeURIComponent(operatorAfter) : url);
      stream.addEventListener('operator', function (e) {
        var m = JSON.parse(e.data);
        if (operatorAfter && m.id <= operatorAfter) return;
        addMessage('operator', m.text, { label: m.label });
        remember('operator', m.text, { label: m.label });
        operatorAfter = m.id;
        save('operator_after', operatorAfter);
      });
      stream.addEventListener('status', function (e) {
        var s = JSON.parse(e.data);
        withPerson = s.waiting || s.bot_paused;
        showHumanButton();
      });
    }
    function closeStream() {
      if (stream) stream.close();
      stream = null;
    }

    function setOpen(open) {
      if (open) panel.removeAttribute('hidden');
      else panel.setAttribute('hidden', '');
      launcher.setAttribute('aria-expanded', String(open));
      if (open) openStream();
      else closeStream();
      if (open) input.focus();
      else launcher.focus();
    }
    launcher.addEventListener('click', function () {
      setOpen(panel.hasAttribute('hidden'));
    });
    closeBtn.addEventListener('click', function () {
      setOpen(false);
    });
    panel.addEventListener('keydown', function (e) {
      if (e.key === 'Escape') setOpen(false);
    });
    input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        composer.requestSubmit ? composer.requestSubmit() : composer.dispatchEvent(new Event('submit'));
      }
    });
    composer.addEventListener('submit', function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text || send.disabled) return;
      input.value = '';
      addMessage('user', text);
      remember('user', text);
      ask(text);
    });

    function ask(text) {
      send.disabled = true;
      var bubble = null;
      var reply = '';
      var finished = false;
      function finish() {
        finished = true;
        send.disabled = false;
      }
      fetch(base + '/v1/chat/stream' + q, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ message: text, conversation_id: conversationId || undefined, visitor_id: visitorId }),
      })
        .then(function (res) {
          if (!res.ok || !res.body) return failed(res);
          return readEvents(res.body.getReader(), function (event, data) {
            if (event === 'meta' && data.conversation_id) {
              conversationId = data.conversation_id;
              save('conversation', conversationId);
              openStream();
            } else if (event === 'token') {
              if (!bubble) bubble = addMessage('bot', '');
              reply += data.text;
              richText(bubble, reply);
              log.scrollTop = log.scrollHeight;
            } else if (event === 'done') {
              var full = data.reply != null ? data.reply : reply;
              // No reply at all: an operator has paused the bot and will answer (see openStream).
              if (full || bubble) {
                if (!bubble) bubble = addMessage('bot', full);
                else richText(bubble, full);
                if (data.checkout_url) addPayButton(bubble, data.checkout_url);
                addSources(bubble, data.sources);
                remember('bot', full, data);
              }
              finish();
            } else if (event === 'error') {
              notice(data.code === 'rate_limited' ? 'Too many messages — please wait a moment and try again.' : 'Sorry, something went wrong: ' + (data.message || 'please try again.'));
              finish();
            }
          });
        })
        .catch(function () {
          notice("Can't reach the assistant right now. Please check your connection and try again.");
        })
        .then(function () {
          if (!finished) finish();
        });
    }

    function failed(res) {
      return res
        .json()
        .catch(function () {
          return {};
        })
        .then(function (body) {
          var err = (body && body.error) || {};
          if (res.status === 429) notice('Too many messages — please wait a moment and try again.');
          else notice('Sorry, the assistant is unavailable' + (err.message ? ': ' + err.message : '.'));
        });
    }

    function submitLead(form, toggle) {
      var body = { conversation_id: conversationId || undefined };
      Array.prototype.forEach.call(form.querySelectorAll('input'), function (i) {
        if (i.value.trim()) body[i.name] = i.value.trim();
      });
      fetch(base + '/v1/leads' + q, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        .then(function (res) {
          if (res.ok) {
            form.setAttribute('hidden', '');
            toggle.setAttribute('hidden', '');
            addMessage('bot', 'Thanks! We have your details and will be in touch.');
            return;
          }
          return res.json().then(function (b) {
            var details = (b.error && b.error.details) || [];
            notice('Please check: ' + (details.length ? details.map(function (d) { return d.path.replace(/^body\./, ''); }).join(', ') : b.error.message));
          });
        })
        .catch(function () {
          notice("Can't reach the assistant right now. Please try again later.");
        });
    }
  }

  /** A minimal text/event-stream reader over fetch: events split on blank lines, data as JSON. */
  function readEvents(reader, onEvent) {
    var decoder = new TextDecoder();
    var buffer = '';
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return;
        buffer += decoder.decode(r.value, { stream: true });
        var idx;
        while ((idx = buffer.search(/\r?\n\r?\n/)) >= 0) {
          var block = buffer.slice(0, idx);
          buffer = buffer.slice(idx).replace(/^\r?\n\r?\n/, '');
          var event = 'message';
          var data = '';
          block.split(/\r?\n/).forEach(function (line) {
            if (line.indexOf('event:') === 0) event = line.slice(6).trim();
            else if (line.indexOf('data:') === 0) data += line.slice(5).replace(/^ /, '');
          });
          if (!data) continue;
          try {
            onEvent(event, JSON.parse(data));
          } catch (e) {
            /* a malformed event is skipped, the stream goes on */
          }
        }
        return pump();
      });
    }
    return pump();
  }

  function boot() {
    fetch(base + '/v1/widget/bootstrap' + q)
      .then(function (res) {
        if (!res.ok) throw new Error('bootstrap ' + res.status);
        return res.json();
      })
      .then(start)
      .catch(function () {
        // Unreachable server, unknown tenant or an origin the tenant has not allowed: the visitor
        // still sees a launcher that says so, and the reason is in the browser console.
        if (window.console) console.warn('zia: the chat widget could not load its configuration from ' + base);
        start({
          branding: { color: '#5f6368', title: 'Chat', launcher_text: 'Chat', position: 'bottom-right', avatar_url: null },
          greeting: "Can't reach the assistant right now. Please try again later.",
          lead: { form_enabled: false, fields: [] },
          offline: true,
        });
      });
  }

  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot);
})();
