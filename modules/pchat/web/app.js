/*
 * The room-management page of kamailio-pchat (Lync's /PersistentChat/RM/): a single-page app
 * over the JSON API of modules/pchat/doc/webapi.md, in plain DOM (no framework, no build step).
 * The page is served with a strict Content-Security-Policy: no inline script or style, no eval.
 * Nothing here uses innerHTML: every text from the service goes in as text (textContent or a
 * text node), so a room named <img src=x onerror=alert(1)> shows as those characters.
 *
 * Routes (location.hash):
 *   #/login                      sign in (any route shows it while signed out)
 *   #/rooms                      my rooms: the rooms I manage, the rooms I am a member of
 *   #/rooms/new, #/rooms/GUID    create a room, edit a room (one form)
 *   #/admin/categories           categories (administrators only, as every #/admin route)
 *   #/admin/categories/new, #/admin/categories/GUID
 *   #/admin/rooms                every room, searched by name and category
 *   #/admin/settings             the pool's settings
 *   #/admin/moderation           find messages, replace them
 *   #/admin/pool                 nodes, heartbeats, sessions, busiest rooms
 *   #/admin/compliance           the compliance service's status
 *
 * Hooks for browser tests (ids are unique on the page; "testid" is data-testid):
 *   Every route
 *     #page-title          the route's h1; focused after each route change
 *     #loading             "Loading…", there while the route's first answers are awaited
 *     #status              testid status: the page's aria-live message region ("Your session has
 *                          ended, sign in again", "The service is busy, try again in N s", "Room
 *                          “X” created.", "Room “X” deleted.", "You have signed out.")
 *     #nav #nav-rooms #nav-admin-categories #nav-admin-rooms #nav-admin-settings
 *     #nav-admin-moderation #nav-admin-pool #nav-admin-compliance (admin links: me.admin only)
 *     #user-name (testid user-name)   #logout (testid logout)
 *     #retry               "Try again", when GET /me at the start found no service (503, no
 *                          connection)
 *   #/login
 *     #login-form #login-user #login-password #login-submit
 *     #login-status        the refusal: wrong user or password, too many tries (with the wait)
 *   #/rooms
 *     #rooms-create        "Create a room", a link to #/rooms/new that looks like a button (only
 *                          when GET /categories lists one category at least)
 *     table#rooms-managed (testid rooms-managed), table#rooms-member (testid rooms-member):
 *     a tr[data-guid=GUID] per room, its name in td.room-name (a.room-link to #/rooms/GUID when
 *     the room may be edited), then td.room-category, td.room-privacy, td.room-disabled
 *   #/rooms/new, #/rooms/GUID
 *     #room-form #room-name #room-name-status (aria-live: available, or why not)
 *     #room-description #room-category (select)
 *     #room-privacy (fieldset) with radios #room-privacy-open #room-privacy-closed
 *       #room-privacy-secret
 *     #room-managers #room-members (textareas: one principal a line, or comma separated)
 *     #room-check-names #room-check-result (aria-live)
 *     #room-invitations (fieldset) with #room-invitations-inherit #room-invitations-on
 *       #room-invitations-off
 *     #room-addin   #room-disabled (edit only)
 *     administrators: #room-type (fieldset) with #room-type-normal #room-type-auditorium,
 *       #room-presenters
 *     #room-save #room-cancel #room-status (aria-live: saved, stale, refusals)
 *     #room-reload (shown after a 409 stale) #room-delete (only when room.may.delete)
 *     #room-delete-box with #room-delete-question, #room-delete-confirm, #room-delete-cancel
 *     (the confirmation step)   #room-category-note (why the category list is what it is)
 *     #room-read-only (a room the user may see but not change: Save is hidden)
 *     #room-load-error (the room could not be loaded: 403/404; or no category to create in)
 *     A field's error is #ID-error (#room-name-error, #room-members-error, ...: scope refusals
 *     list each principal with its reason in an li) and the field gets aria-invalid="true".
 *   #/admin/categories
 *     #categories-create, table testid admin-categories, tr[data-guid] with a.category-link
 *   #/admin/categories/new, #/admin/categories/GUID
 *     #cat-form #cat-name #cat-description #cat-file-upload #cat-invitations #cat-chat-history
 *     (checkboxes) #cat-allowed #cat-denied #cat-creators (textareas) #cat-save #cat-cancel
 *     #cat-status #cat-delete #cat-delete-question #cat-delete-confirm #cat-delete-cancel
 *     #cat-delete-status (a refused deletion: rooms left); errors #cat-ID-error as above;
 *     #cat-load-error (no such category)
 *   #/admin/rooms
 *     #admin-rooms-form #admin-rooms-name #admin-rooms-category #admin-rooms-search
 *     #admin-rooms-count, table testid admin-rooms, tr[data-guid] with a.room-link
 *   #/admin/settings
 *     table testid admin-settings: tr[data-name=NAME] with .setting-value (input or select),
 *     td.setting-default, button.setting-save, button.setting-reset; #settings-status
 *   #/admin/moderation
 *     #mod-form #mod-room #mod-user #mod-keyword #mod-after #mod-before (datetime-local, the
 *     browser's local time) #mod-search #mod-count, table testid mod-messages (tr[data-seq]),
 *     #mod-replacement #mod-replace #mod-replace-question #mod-replace-confirm
 *     #mod-replace-cancel #mod-status ("Replaced N messages.")
 *   #/admin/pool
 *     #pool-refresh; one section per member of the answer, testid pool-MEMBER (arrays of objects
 *     as tables, objects as dl)
 *   #/admin/compliance
 *     dl testid compliance-status (dt[data-key=MEMBER])
 *   Generic tables and lists mark their cells th[data-key], td[data-key], dt[data-key].
 *   Tables have an empty-row tr.empty when they list nothing; headings (#*-heading) label them.
 *   After creating a room the page goes to #/rooms/GUID and #status says "Room “NAME” created.";
 *   after deleting one, to #/rooms with "Room “NAME” deleted.". Confirmations are on the page
 *   (no window.confirm), so a test clicks #…-confirm.
 */
'use strict';

(() => {
  const API = '/api/v1';
  const APP = 'Persistent Chat rooms';
  const REPLACEMENT = 'This message was removed by a moderator.';
  const NAME_CHECK_MS = 350;
  const TEXT_MAX = 256;

  const state = {
    me: null,      // GET /api/v1/me, or the sign-in's answer: {user, admin, csrf, ...}
    next: null,    // the route to show after signing in
    flash: null,   // {text, kind} for the status region once the next route shows
    prev: null,    // the route shown before this one
    shown: null,   // the route shown now
    gen: 0,        // counts route changes: answers that come for an older route are dropped
  };

  // A refusal that api() already showed and handled (401, 503, no connection).
  class Handled extends Error {}

  // ------------------------------------------------------------------------------------- DOM

  // h('a', {href: '#/rooms', text: 'My rooms'}, child...): an element. Only code gives attribute
  // names; values and texts from the service go in as attribute values and text nodes.
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') el.textContent = String(v);
      else if (k === 'class') el.className = v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k === 'data') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  const byId = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  // The page's status region, or a form's: text (or nodes) and a kind (ok, error, or none).
  function sayIn(el, content, kind) {
    if (!el) return;
    el.replaceChildren(...[].concat(content || []).map((c) => (c instanceof Node ? c : String(c))));
    el.classList.toggle('ok', kind === 'ok');
    el.classList.toggle('error', kind === 'error');
  }
  const say = (content, kind) => sayIn(byId('status'), content, kind);

  function liveRegion(id, cls) {
    return h('div', { id, class: cls || 'form-status', role: 'status', 'aria-live': 'polite',
      testid: id });
  }

  // A search of an administrators' page: GET path?query, "Searching…" in count meanwhile. The
  // answer's data, or null once the refusal is said in count and the old results are gone (or
  // the page moved on).
  async function searchFor(ctx, count, results, path, query) {
    sayIn(count, 'Searching…');
    const r = await api('GET', path + (query ? '?' + query : ''));
    if (!alive(ctx)) return null;
    if (r.status !== 200) {
      sayIn(count, refusalText(r), 'error');
      results.replaceChildren();
      return null;
    }
    return r.data;
  }

  // A question asked on the page before a change that cannot be undone: the trigger opens it
  // with the text ask() gives (nothing when ask() gives null), "yes" closes it and runs act,
  // "no" closes it; focus goes where a keyboard user expects. Ids: PREFIX-question,
  // PREFIX-confirm, PREFIX-cancel, PREFIX-box. Returns the box to place on the page.
  function confirmation(prefix, trigger, yesText, noText, ask, act) {
    const question = h('p', { id: prefix + '-question' });
    const yes = h('button', { type: 'button', id: prefix + '-confirm', class: 'danger',
      text: yesText });
    const no = h('button', { type: 'button', id: prefix + '-cancel', text: noText });
    const box = h('div', { class: 'confirm', id: prefix + '-box', role: 'group',
      'aria-labelledby': prefix + '-question', hidden: true }, question,
    h('div', { class: 'actions' }, yes, no));
    trigger.addEventListener('click', () => {
      const text = ask();
      if (text === null) return;
      question.textContent = text;
      box.hidden = false;
      yes.focus();
    });
    no.addEventListener('click', () => {
      box.hidden = true;
      trigger.focus();
    });
    yes.addEventListener('click', () => {
      box.hidden = true;
      act();
    });
    return box;
  }

  // A labelled control: label, hint, the control, then its error (all tied by aria-describedby).
  function field(id, label, control, opts) {
    opts = opts || {};
    control.id = id;
    const described = [];
    const wrap = h('div', { class: 'field', id: id + '-field' }, h('label', { for: id, text: label }));
    if (opts.hint) {
      wrap.append(h('p', { class: 'hint', id: id + '-hint', text: opts.hint }));
      described.push(id + '-hint');
    }
    wrap.append(control);
    for (const extra of opts.after || []) {
      wrap.append(extra);
      if (extra.id) described.push(extra.id);
    }
    wrap.append(h('div', { class: 'field-error', id: id + '-error', hidden: true }));
    described.push(id + '-error');
    control.setAttribute('aria-describedby', described.join(' '));
    return wrap;
  }

  // A checkbox with its label after it.
  function checkbox(id, label, hint) {
    const input = h('input', { type: 'checkbox', id });
    const wrap = h('div', { class: 'field check', id: id + '-field' },
      h('label', { for: id, class: 'choice' }, input, h('span', { class: 'choice-label', text: label })));
    const described = [];
    if (hint) {
      wrap.append(h('p', { class: 'hint', id: id + '-hint', text: hint }));
      described.push(id + '-hint');
    }
    wrap.append(h('div', { class: 'field-error', id: id + '-error', hidden: true }));
    described.push(id + '-error');
    input.setAttribute('aria-describedby', described.join(' '));
    return { wrap, input };
  }

  // A radio group: fieldset and legend, options [[value, label, description]].
  function radios(id, legend, options) {
    const fs = h('fieldset', { id, class: 'field radios', 'aria-describedby': id + '-error' },
      h('legend', { text: legend }));
    for (const [value, label, desc] of options) {
      const rid = id + '-' + value;
      fs.append(h('label', { for: rid, class: 'choice' },
        h('input', { type: 'radio', name: id, id: rid, value }),
        h('span', { class: 'choice-text' }, h('span', { class: 'choice-label', text: label }),
          desc ? h('span', { class: 'choice-desc', text: desc }) : null)));
    }
    fs.append(h('div', { class: 'field-error', id: id + '-error', hidden: true }));
    return fs;
  }
  const radioValue = (fs) => {
    const c = fs.querySelector('input[type=radio]:checked');
    return c ? c.value : '';
  };
  function setRadio(fs, value) {
    for (const r of fs.querySelectorAll('input[type=radio]')) r.checked = r.value === value;
  }

  // Shows an error at a field: text, and optionally principals with their reasons.
  function setFieldError(id, text, items) {
    const err = byId(id + '-error');
    if (!err) return false;
    err.replaceChildren(String(text));
    if (items && items.length) {
      err.append(h('ul', null, items.map((p) => h('li', null,
        h('span', { class: 'principal', text: p.principal }), p.reason ? ': ' + p.reason : ''))));
    }
    err.hidden = false;
    const ctl = byId(id);
    if (ctl) {
      ctl.classList.add('invalid');
      if (ctl.tagName !== 'FIELDSET') ctl.setAttribute('aria-invalid', 'true');
    }
    return true;
  }

  function clearFieldError(id) {
    const err = byId(id + '-error');
    if (err) {
      err.hidden = true;
      err.replaceChildren();
    }
    const ctl = byId(id);
    if (ctl) {
      ctl.classList.remove('invalid');
      ctl.removeAttribute('aria-invalid');
    }
  }

  function clearErrors(root) {
    for (const e of root.querySelectorAll('.field-error')) {
      e.hidden = true;
      e.replaceChildren();
    }
    for (const e of root.querySelectorAll('.invalid')) e.classList.remove('invalid');
    for (const e of root.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  }

  function focusField(id) {
    const el = byId(id);
    if (!el) return;
    const target = el.tagName === 'FIELDSET' ? el.querySelector('input') : el;
    if (target) target.focus();
  }

  // Principals typed in a textarea: one a line, or separated by commas, semicolons or spaces.
  function parseList(text) {
    return String(text || '').split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
  }
  const listText = (list) => (list || []).join('\n');
  const normPrincipal = (p) => String(p || '').trim().toLowerCase().replace(/^sip:/, '');
  const sameList = (a, b) => a.length === (b || []).length && a.every((x, i) => x === b[i]);
  const unique = (list) => {
    const seen = new Set();
    return list.filter((p) => {
      const k = normPrincipal(p);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };

  const capital = (s) => (s ? String(s).charAt(0).toUpperCase() + String(s).slice(1) : '');
  const yesNo = (b) => (b ? 'Yes' : 'No');
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  function humanize(key) {
    return capital(String(key).replace(/_/g, ' '));
  }

  function timeText(t) {
    if (!t) return '';
    const d = new Date(t);
    return isNaN(d.getTime()) ? String(t) : d.toLocaleString();
  }

  function timeCell(t) {
    return h('time', { datetime: t, title: t, text: timeText(t) });
  }

  // A table in a horizontally scrolling box (phones). columns: [[key, heading]].
  function table(testid, labelledby, columns, rows, emptyText) {
    const tbody = h('tbody');
    const t = h('table', { id: testid, testid, 'aria-labelledby': labelledby },
      h('thead', null, h('tr', null, columns.map(([key, head]) =>
        h('th', { scope: 'col', data: { key }, text: head })))), tbody);
    for (const r of rows) tbody.append(r);
    if (!rows.length) {
      tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length, text: emptyText })));
    }
    return h('div', { class: 'table-wrap', tabindex: '0', role: 'region',
      'aria-labelledby': labelledby }, t);
  }

  // -------------------------------------------------------------------------------- the API

  function retryAfter(res) {
    const v = (res.headers.get('Retry-After') || '').trim();
    if (!v) return null;
    if (/^\d+$/.test(v)) return parseInt(v, 10);
    const t = Date.parse(v);
    return isNaN(t) ? null : Math.max(1, Math.ceil((t - Date.now()) / 1000));
  }

  function waitText(s) {
    if (s === null || s === undefined) return 'a little while';
    return s < 120 ? `${s} s` : `${Math.ceil(s / 60)} min`;
  }

  // One request to the API: {status, data (the JSON object, {} without one), res}. Changes send
  // the session's CSRF token. A 401 ends the session (unless opts.own401: the caller handles it),
  // a 503 and a lost connection are told in the status region; both throw Handled.
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET' && state.me && state.me.csrf) headers['X-CSRF-Token'] = state.me.csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      say('The service cannot be reached. Check the connection and try again.', 'error');
      throw new Handled();
    }
    let data = null;
    if (res.status !== 204) {
      const text = await res.text().catch(() => '');
      try {
        data = text ? JSON.parse(text) : null;
      } catch (e) {
        data = null;
      }
    }
    const r = { status: res.status, data: data && typeof data === 'object' ? data : {}, res };
    if (res.status === 401 && !opts.own401) {
      sessionEnded();
      throw new Handled();
    }
    if (res.status === 503) {
      const n = retryAfter(res);
      say(`The service is busy, try again in ${n === null ? 'a moment' : n + ' s'}.`, 'error');
      throw new Handled();
    }
    if (res.status === 403 && r.data.error === 'csrf' && !opts.retried && method !== 'GET') {
      // The session's token is not the one we hold (signed in again in another tab): take the
      // session's current one and try once more.
      const me = await api('GET', '/me');
      if (me.status === 200 && me.data.csrf) {
        state.me = me.data;
        return api(method, path, body, Object.assign({}, opts, { retried: true }));
      }
    }
    return r;
  }

  function refusalText(r) {
    const m = r.data && r.data.message;
    switch (r.status) {
      case 403: return m ? `Not allowed: ${m}` : 'You may not do this.';
      case 404: return 'Not found: it does not exist, or you may not see it.';
      case 413: return 'Too much at once: the service takes at most 64 KB in one change.';
      case 415: return 'The service did not take the request\'s format.';
      default: return m || `The service refused this (HTTP ${r.status}).`;
    }
  }

  function sessionEnded() {
    state.me = null;
    updateHeader();
    if (routePath() === '/login') {
      say('Your session has ended, sign in again.', 'error');
      return;
    }
    state.next = '#' + routePath();
    go('#/login', { text: 'Your session has ended, sign in again.', kind: 'error' });
  }

  // -------------------------------------------------------------------------------- routing

  function routePath() {
    const p = location.hash.replace(/^#/, '');
    return !p || p === '/' ? '/rooms' : p;
  }

  function go(hash, flash) {
    state.flash = flash || null;
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  const ROUTES = [
    [/^\/login$/, () => viewLogin],
    [/^\/rooms$/, () => viewMyRooms],
    [/^\/rooms\/new$/, () => viewRoom],
    [/^\/rooms\/([^/]+)$/, () => viewRoom, 'guid'],
    [/^\/admin\/categories$/, () => adminOnly(viewCategories)],
    [/^\/admin\/categories\/new$/, () => adminOnly(viewCategory)],
    [/^\/admin\/categories\/([^/]+)$/, () => adminOnly(viewCategory), 'guid'],
    [/^\/admin\/rooms$/, () => adminOnly(viewAdminRooms)],
    [/^\/admin\/settings$/, () => adminOnly(viewSettings)],
    [/^\/admin\/moderation$/, () => adminOnly(viewModeration)],
    [/^\/admin\/pool$/, () => adminOnly(viewPool)],
    [/^\/admin\/compliance$/, () => adminOnly(viewCompliance)],
  ];

  function findRoute(path) {
    for (const [re, view, param] of ROUTES) {
      const m = re.exec(path);
      if (!m) continue;
      const params = {};
      if (param) {
        try {
          params[param] = decodeURIComponent(m[1]);
        } catch (e) {
          return { view: viewNotFound, params };
        }
      }
      return { view: view(), params };
    }
    return { view: viewNotFound, params: {} };
  }

  async function render() {
    const gen = ++state.gen;
    const path = routePath();
    const route = findRoute(path);
    const flash = state.flash;
    state.flash = null;
    if (!state.me && route.view !== viewLogin) {
      state.next = '#' + path;
      go('#/login', flash);
      return;
    }
    if (state.me && route.view === viewLogin) {
      go('#/rooms', flash);
      return;
    }
    say(flash ? flash.text : '', flash && flash.kind);
    if (state.shown !== path) {
      state.prev = state.shown;
      state.shown = path;
    }
    updateHeader();
    const ctx = { gen, params: route.params, main: byId('main') };
    try {
      await route.view(ctx);
    } catch (e) {
      if (e instanceof Handled) return;
      console.error(e);
      if (gen === state.gen) say('Something went wrong: ' + (e && e.message), 'error');
    }
  }

  const alive = (ctx) => ctx.gen === state.gen;

  // The route's heading, title and focus; returns a "Loading…" paragraph to remove.
  function startView(ctx, title) {
    document.title = `${title} – ${APP}`;
    const h1 = h('h1', { id: 'page-title', tabindex: '-1', text: title });
    const loading = h('p', { class: 'loading', id: 'loading', text: 'Loading…' });
    ctx.main.replaceChildren(h1, loading);
    h1.focus();
    return loading;
  }

  function setTitle(title) {
    document.title = `${title} – ${APP}`;
    byId('page-title').textContent = title;
  }

  function updateHeader() {
    const me = state.me;
    byId('nav').hidden = !me;
    byId('user-box').hidden = !me;
    byId('user-name').textContent = me ? me.user || '' : '';
    for (const li of document.querySelectorAll('.admin-only')) li.hidden = !(me && me.admin);
    const path = routePath();
    for (const a of document.querySelectorAll('#nav a')) {
      const target = a.getAttribute('href').slice(1);
      const current = path === target || path.startsWith(target + '/');
      if (current) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function adminOnly(view) {
    return (ctx) => {
      if (state.me && state.me.admin) return view(ctx);
      startView(ctx, 'Administrators only').remove();
      ctx.main.append(h('p', { class: 'error', text: 'This part of the page is for administrators.' }),
        h('p', null, h('a', { href: '#/rooms', text: 'Back to my rooms' })));
      return undefined;
    };
  }

  function viewNotFound(ctx) {
    startView(ctx, 'Page not found').remove();
    ctx.main.append(h('p', { text: 'There is no such page here.' }),
      h('p', null, h('a', { href: '#/rooms', text: 'Go to my rooms' })));
  }

  // ------------------------------------------------------------------------- sign in and out

  function viewLogin(ctx) {
    startView(ctx, 'Sign in').remove();
    const user = h('input', { type: 'text', name: 'user', autocomplete: 'username',
      autocapitalize: 'none', spellcheck: 'false', required: true });
    const password = h('input', { type: 'password', name: 'password',
      autocomplete: 'current-password', required: true });
    const status = liveRegion('login-status');
    const submit = h('button', { type: 'submit', id: 'login-submit', class: 'primary',
      text: 'Sign in' });
    const form = h('form', { id: 'login-form', class: 'card narrow', novalidate: true },
      h('p', { text: 'Sign in with your chat account.' }),
      field('login-user', 'User name', user,
        { hint: 'alice, alice@example.com or sip:alice@example.com' }),
      field('login-password', 'Password', password),
      h('div', { class: 'actions' }, submit), status);
    let busy = false;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      clearErrors(form);
      if (!user.value.trim()) {
        setFieldError('login-user', 'Enter your user name.');
        user.focus();
        return;
      }
      if (!password.value) {
        setFieldError('login-password', 'Enter your password.');
        password.focus();
        return;
      }
      busy = true;
      sayIn(status, 'Signing in…');
      let r;
      try {
        r = await api('POST', '/login', { user: user.value.trim(), password: password.value },
          { own401: true });
      } catch (e) {
        sayIn(status, '');
        if (e instanceof Handled) return;
        throw e;
      } finally {
        busy = false;
      }
      if (r.status === 200) {
        password.value = '';
        let me = r.data.me && typeof r.data.me === 'object' ? r.data.me : r.data;
        if (!me.user || !me.csrf) {
          const again = await api('GET', '/me');
          if (again.status === 200) me = again.data;
        }
        state.me = me;
        const next = state.next && state.next !== '#/login' ? state.next : '#/rooms';
        state.next = null;
        go(next);
        return;
      }
      if (r.status === 401) {
        sayIn(status, 'The user name or the password is not right.', 'error');
        password.value = '';
        password.focus();
      } else if (r.status === 429) {
        sayIn(status, 'Too many failed sign-ins. Try again in ' + waitText(retryAfter(r.res)) + '.',
          'error');
      } else {
        sayIn(status, refusalText(r), 'error');
      }
    });
    ctx.main.append(form);
  }

  async function logout() {
    let r;
    try {
      r = await api('POST', '/logout', undefined, { own401: true });
    } catch (e) {
      if (e instanceof Handled) return;
      throw e;
    }
    if (r.status === 204 || r.status === 200 || r.status === 401) {
      state.me = null;
      state.next = null;
      updateHeader();
      go('#/login', { text: 'You have signed out.', kind: 'ok' });
    } else {
      say(refusalText(r), 'error');
    }
  }

  // ----------------------------------------------------------------------------- my rooms

  const privacyText = (p) => capital(p);

  // A room table's rows. link(room): whether the name links to the room's form.
  function roomRows(rooms, link, withType) {
    return (rooms || []).map((r) => h('tr', { data: { guid: r.guid } },
      h('td', { class: 'room-name', data: { key: 'name' } }, link(r)
        ? h('a', { class: 'room-link', href: '#/rooms/' + enc(r.guid), text: r.name })
        : r.name),
      h('td', { class: 'room-category', data: { key: 'category' },
        text: r.category ? r.category.name : '' }),
      h('td', { class: 'room-privacy', data: { key: 'privacy' }, text: privacyText(r.privacy) }),
      withType ? h('td', { class: 'room-type', data: { key: 'type' }, text: capital(r.type) }) : null,
      h('td', { class: 'room-disabled', data: { key: 'disabled' }, text: yesNo(r.disabled) })));
  }

  function roomColumns(withType) {
    return [['name', 'Name'], ['category', 'Category'], ['privacy', 'Privacy']]
      .concat(withType ? [['type', 'Type']] : []).concat([['disabled', 'Disabled']]);
  }

  async function viewMyRooms(ctx) {
    const loading = startView(ctx, 'My rooms');
    const [rooms, cats] = await Promise.all([api('GET', '/rooms'), api('GET', '/categories')]);
    if (!alive(ctx)) return;
    loading.remove();
    if (rooms.status !== 200) {
      ctx.main.append(h('p', { class: 'error', text: refusalText(rooms) }));
      return;
    }
    const categories = cats.status === 200 && Array.isArray(cats.data.categories)
      ? cats.data.categories : [];
    if (categories.length) {
      ctx.main.append(h('p', { class: 'actions' }, h('a', { id: 'rooms-create',
        class: 'button primary', href: '#/rooms/new', text: 'Create a room' })));
    }
    const mayEdit = (r) => !r.may || r.may.edit !== false;
    ctx.main.append(
      h('section', null, h('h2', { id: 'rooms-managed-heading', text: 'Rooms I manage' }),
        table('rooms-managed', 'rooms-managed-heading', roomColumns(false),
          roomRows(rooms.data.managed, mayEdit, false), 'You manage no rooms.')),
      h('section', null, h('h2', { id: 'rooms-member-heading', text: 'Rooms I am a member of' }),
        table('rooms-member', 'rooms-member-heading', roomColumns(false),
          roomRows(rooms.data.member, (r) => r.may && r.may.edit, false),
          'You are a member of no rooms.')));
  }

  // ---------------------------------------------------------------------- a room's form

  // The API's member names and the form's fields.
  const ROOM_FIELDS = {
    name: 'room-name', description: 'room-description', privacy: 'room-privacy',
    category: 'room-category', managers: 'room-managers', members: 'room-members',
    invitations: 'room-invitations', addin: 'room-addin', disabled: 'room-disabled',
    type: 'room-type', presenters: 'room-presenters',
  };

  const PRINCIPALS_HINT = 'One a line, or separated by commas: sip:alice@example.com, '
    + 'alice@example.com, or a whole domain such as example.com.';

  async function viewRoom(ctx) {
    const guid = ctx.params.guid || null;
    const loading = startView(ctx, guid ? 'Edit a room' : 'Create a room');
    const [cats, got] = await Promise.all([api('GET', '/categories'),
      guid ? api('GET', '/rooms/' + enc(guid)) : null]);
    if (!alive(ctx)) return;
    loading.remove();
    const back = h('p', null, h('a', { href: '#/rooms', text: 'Back to my rooms' }));
    if (got && got.status !== 200) {
      ctx.main.append(h('p', { class: 'error', id: 'room-load-error', text: got.status === 404
        ? 'There is no such room, or you may not see it.' : refusalText(got) }), back);
      return;
    }
    const categories = cats.status === 200 && Array.isArray(cats.data.categories)
      ? cats.data.categories : [];
    if (!guid && !categories.length) {
      ctx.main.append(h('p', { class: 'error', id: 'room-load-error', text: 'You cannot create '
        + 'rooms: you are not a creator in any category. An administrator can make you one.' }),
      back);
      return;
    }
    roomForm(ctx, got ? got.data : null, categories);
  }

  function roomForm(ctx, room, categories) {
    const isNew = !room;
    const admin = !!(state.me && state.me.admin);
    let orig = room;          // the room as last loaded or saved
    let busy = false;

    const name = h('input', { type: 'text', maxlength: TEXT_MAX, autocomplete: 'off',
      required: true, spellcheck: 'false' });
    const nameStatus = h('p', { id: 'room-name-status', class: 'name-status', role: 'status',
      'aria-live': 'polite', testid: 'room-name-status' });
    const description = h('textarea', { rows: 3, maxlength: TEXT_MAX });
    const category = h('select', { required: true });
    const categoryHint = h('p', { class: 'hint', id: 'room-category-note' });
    const privacy = radios('room-privacy', 'Privacy', [
      ['open', 'Open', 'Anyone in the category\'s scope can find the room, read and post.'],
      ['closed', 'Closed', 'Anyone can find the room; only members can read and post.'],
      ['secret', 'Secret', 'Only members can find the room, read and post.'],
    ]);
    const managers = h('textarea', { rows: 3, autocomplete: 'off', spellcheck: 'false' });
    const members = h('textarea', { rows: 5, autocomplete: 'off', spellcheck: 'false' });
    const presenters = admin ? h('textarea', { rows: 3, autocomplete: 'off', spellcheck: 'false' })
      : null;
    const checkResult = liveRegion('room-check-result', 'form-status check-result');
    const checkButton = h('button', { type: 'button', id: 'room-check-names', text: 'Check names' });
    const invitations = radios('room-invitations', 'Invitations', [
      ['inherit', 'As the category says', null],
      ['on', 'On', 'Members get an invitation to the room.'],
      ['off', 'Off', null],
    ]);
    const addin = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const type = admin ? radios('room-type', 'Type', [
      ['normal', 'Normal', 'Every member can post.'],
      ['auditorium', 'Auditorium', 'Only presenters can post; members read.'],
    ]) : null;
    const disabled = isNew ? null : checkbox('room-disabled', 'Disabled',
      'A disabled room keeps its history, but nobody can enter it.');
    const status = liveRegion('room-status');
    const save = h('button', { type: 'submit', id: 'room-save', class: 'primary',
      text: isNew ? 'Create the room' : 'Save' });
    const cancelTo = state.prev === '/admin/rooms' ? '#/admin/rooms' : '#/rooms';
    const cancel = h('a', { id: 'room-cancel', class: 'button', href: cancelTo, text: 'Cancel' });
    const reload = h('button', { type: 'button', id: 'room-reload', hidden: true,
      'aria-describedby': 'room-status', text: 'Reload the room' });

    const form = h('form', { id: 'room-form', class: 'card', novalidate: true, testid: 'room-form' },
      h('section', { class: 'form-part' }, h('h2', { text: 'The room' }),
        field('room-name', 'Name', name, { hint: `Unique; at most ${TEXT_MAX} characters.`,
          after: [nameStatus] }),
        field('room-description', 'Description', description,
          { hint: `At most ${TEXT_MAX} characters.` }),
        field('room-category', 'Category', category, { after: [categoryHint] }),
        privacy),
      h('section', { class: 'form-part' }, h('h2', { text: 'People' }),
        field('room-managers', 'Managers', managers, { hint: PRINCIPALS_HINT
          + (isNew ? ' Empty: you.' : ' At least one.') }),
        field('room-members', 'Members', members, { hint: PRINCIPALS_HINT }),
        presenters ? field('room-presenters', 'Presenters', presenters,
          { hint: 'Who may post in an auditorium. ' + PRINCIPALS_HINT }) : null,
        h('div', { class: 'actions' }, checkButton), checkResult),
      h('section', { class: 'form-part' }, h('h2', { text: 'Options' }),
        invitations,
        field('room-addin', 'Add-in', addin,
          { hint: 'The address (URL) of the add-in shown beside the room; empty for none.' }),
        type,
        disabled ? disabled.wrap : null),
      status,
      h('div', { class: 'actions' }, save, cancel, reload));

    // Deleting: only when the room may be deleted, after a confirmation.
    let deleteBox = null;
    if (room && room.may && room.may.delete) {
      const del = h('button', { type: 'button', id: 'room-delete', class: 'danger',
        text: 'Delete the room' });
      const confirmBox = confirmation('room-delete', del, 'Yes, delete it', 'No, keep it',
        () => `Delete the room “${orig.name}” with its history and files? `
          + 'This cannot be undone.',
        () => remove().catch(handleError));
      deleteBox = h('section', { class: 'card danger-zone' }, h('h2', { text: 'Delete' }),
        h('p', { text: 'Deleting a room removes it with its whole chat history and its files.' }),
        h('div', { class: 'actions' }, del), confirmBox);
      const remove = async () => {
        if (busy) return;
        busy = true;
        let r;
        try {
          r = await api('DELETE', `/rooms/${enc(orig.guid)}?version=${enc(orig.version)}`);
        } finally {
          busy = false;
        }
        if (!alive(ctx)) return;
        if (r.status === 204 || r.status === 200) {
          go('#/rooms', { text: `Room “${orig.name}” deleted.`, kind: 'ok' });
          return;
        }
        refused(r, 'Not deleted');
        if (r.status !== 409) del.focus();
      };
    }

    function fillCategories(current) {
      category.replaceChildren();
      const listed = current && categories.some((c) => c.guid === current.guid);
      const mayMove = !orig || !orig.may || orig.may.move !== false;
      // a room's category is always an option, the first one when the list does not hold it;
      // the others only when the room may move
      if (current && !listed) {
        category.append(h('option', { value: current.guid, text: current.name + ' (current)' }));
      }
      for (const c of categories) {
        if (!current || mayMove || c.guid === current.guid) {
          category.append(h('option', { value: c.guid, text: c.name }));
        }
      }
      category.value = current ? current.guid : (categories[0] ? categories[0].guid : '');
      categoryHint.textContent = !current ? 'Categories where you may create rooms.'
        : !mayMove ? 'You may not move this room to another category.'
          : !listed ? 'You are not a creator in this room\'s category; you may move the room to '
            + 'one where you are.' : 'Moving the room needs you to be a creator in the new category.';
    }

    function fill(r) {
      name.value = r ? r.name || '' : '';
      description.value = r ? r.description || '' : '';
      setRadio(privacy, r ? r.privacy : 'closed');
      setRadio(invitations, r ? r.invitations : 'inherit');
      addin.value = r ? r.addin || '' : '';
      managers.value = r ? listText(r.managers) : (state.me.user || '');
      members.value = r ? listText(r.members) : '';
      if (presenters) presenters.value = r ? listText(r.presenters) : '';
      if (type) setRadio(type, r ? r.type || 'normal' : 'normal');
      if (disabled) disabled.input.checked = !!(r && r.disabled);
      fillCategories(r ? r.category : null);
      sayIn(nameStatus, '');
      sayIn(checkResult, '');
      if (r) setTitle(`Edit room “${r.name}”`);
    }

    function read() {
      return {
        name: name.value.trim(),
        description: description.value,
        category: category.value,
        privacy: radioValue(privacy),
        invitations: radioValue(invitations),
        addin: addin.value.trim(),
        managers: parseList(managers.value),
        members: parseList(members.value),
        presenters: presenters ? parseList(presenters.value) : null,
        type: type ? radioValue(type) : null,
        disabled: disabled ? disabled.input.checked : null,
      };
    }

    // What a PUT sends: the members that differ from the room as loaded.
    function changes(v) {
      const body = {};
      if (v.name !== orig.name) body.name = v.name;
      if (v.description !== (orig.description || '')) body.description = v.description;
      if (v.category !== (orig.category ? orig.category.guid : '')) body.category = v.category;
      if (v.privacy !== orig.privacy) body.privacy = v.privacy;
      if (v.invitations !== orig.invitations) body.invitations = v.invitations;
      if (v.addin !== (orig.addin || '')) body.addin = v.addin;
      if (v.disabled !== !!orig.disabled) body.disabled = v.disabled;
      if (!sameList(v.managers, orig.managers)) body.managers = v.managers;
      if (!sameList(v.members, orig.members)) body.members = v.members;
      if (admin) {
        if (v.type !== (orig.type || 'normal')) body.type = v.type;
        if (!sameList(v.presenters, orig.presenters)) body.presenters = v.presenters;
      }
      return body;
    }

    // Refused principals at the fields that hold them; returns those no field holds.
    function showPrincipals(list, text) {
      const fields = [['room-managers', managers], ['room-members', members]];
      if (presenters) fields.push(['room-presenters', presenters]);
      const at = new Map();
      const elsewhere = [];
      for (const p of list || []) {
        const key = normPrincipal(p.principal);
        let placed = false;
        for (const [id, ta] of fields) {
          if (parseList(ta.value).some((x) => normPrincipal(x) === key)) {
            if (!at.has(id)) at.set(id, []);
            at.get(id).push(p);
            placed = true;
          }
        }
        if (!placed) elsewhere.push(p);
      }
      for (const [id, items] of at) setFieldError(id, text, items);
      return elsewhere;
    }

    function principalList(items) {
      return h('ul', null, items.map((p) => h('li', null,
        h('span', { class: 'principal', text: p.principal }), p.reason ? ': ' + p.reason : '')));
    }

    // A refused change, told at the fields and in the form's status.
    function refused(r, what) {
      const d = r.data || {};
      if (r.status === 409 && d.error === 'stale') {
        sayIn(status, 'Someone else changed this room after you opened it, so your change was '
          + 'not saved. Reload to see their change, then make yours again.', 'error');
        reload.hidden = false;
        reload.focus();
        return;
      }
      if (r.status === 409 && d.error === 'conflict') {
        setFieldError('room-name', d.message || 'A room already has this name.');
        sayIn(status, `${what}: the name is taken.`, 'error');
        name.focus();
        return;
      }
      if (r.status === 400 && d.error === 'scope') {
        const list = Array.isArray(d.principals) ? d.principals : [];
        const elsewhere = showPrincipals(list, 'Outside the category\'s scope:');
        sayIn(status, [`${what}: ${plural(list.length, 'name is', 'names are')} outside the `
          + 'category\'s scope (shown at their fields).'].concat(elsewhere.length
          ? [principalList(elsewhere)] : []), 'error');
        const first = ['room-managers', 'room-members', 'room-presenters']
          .find((id) => byId(id) && byId(id).classList.contains('invalid'));
        if (first) focusField(first);
        return;
      }
      if (r.status === 400) {
        const id = ROOM_FIELDS[d.field];
        const shown = id && setFieldError(id, d.message || 'This is not valid.');
        sayIn(status, `${what}: ${d.message || 'a value is not valid'}`
          + (d.field && !shown ? ` (${d.field})` : '') + '.', 'error');
        if (shown) focusField(id);
        return;
      }
      if (r.status === 403) {
        sayIn(status, `${what}: you may not do this` + (d.message ? `: ${d.message}` : '.'), 'error');
      } else if (r.status === 404) {
        sayIn(status, `${what}: this room does not exist any more, or you may not see it.`, 'error');
      } else {
        sayIn(status, `${what}: ${refusalText(r)}`, 'error');
      }
    }

    // The name, checked while typing (debounced); the room's own name counts as available.
    let checkTimer = null;
    let checkSeq = 0;
    async function checkName(seq) {
      const v = name.value.trim();
      if (!v) {
        sayIn(nameStatus, 'Enter a name.', 'error');
        return;
      }
      if (orig && v.toLowerCase() === String(orig.name).toLowerCase()) {
        sayIn(nameStatus, 'This is the room\'s name now.', 'ok');
        return;
      }
      let r;
      try {
        r = await api('GET', '/rooms/check?name=' + enc(v));
      } catch (e) {
        if (e instanceof Handled) return;
        throw e;
      }
      if (seq !== checkSeq || !alive(ctx)) return;
      if (r.status !== 200) sayIn(nameStatus, 'The name could not be checked: ' + refusalText(r), 'error');
      else if (r.data.available) sayIn(nameStatus, 'This name is available.', 'ok');
      else sayIn(nameStatus, r.data.message || 'This name cannot be used.', 'error');
    }
    name.addEventListener('input', () => {
      clearTimeout(checkTimer);
      clearFieldError('room-name');
      const seq = ++checkSeq;
      sayIn(nameStatus, '');
      checkTimer = setTimeout(() => {
        checkName(seq).catch((e) => console.error(e));
      }, NAME_CHECK_MS);
    });

    checkButton.addEventListener('click', async () => {
      for (const id of ['room-managers', 'room-members', 'room-presenters']) clearFieldError(id);
      const v = read();
      const all = unique(v.managers.concat(v.members, v.presenters || []));
      if (!all.length) {
        sayIn(checkResult, 'There are no names to check.');
        return;
      }
      sayIn(checkResult, 'Checking the names…');
      // a manager who creates no rooms checks names against the category of the room edited
      const check = { category: v.category, principals: all };
      if (orig) check.room = orig.guid;
      const r = await api('POST', '/principals/check', check);
      if (!alive(ctx)) return;
      if (r.status !== 200) {
        sayIn(checkResult, 'The names could not be checked: ' + refusalText(r), 'error');
        return;
      }
      const refusedNames = Array.isArray(r.data.refused) ? r.data.refused : [];
      if (!refusedNames.length) {
        sayIn(checkResult, `All ${plural(all.length, 'name', 'names')} may be used in this `
          + 'category.', 'ok');
        return;
      }
      showPrincipals(refusedNames, 'Refused:');
      sayIn(checkResult, [`${refusedNames.length} of ${plural(all.length, 'name', 'names')} `
        + (refusedNames.length === 1 ? 'is' : 'are') + ' refused:', principalList(refusedNames)],
      'error');
    });

    reload.addEventListener('click', () => {
      go(location.hash, { text: 'Reloaded: this is the room as it is now.', kind: 'ok' });
    });

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      clearErrors(form);
      reload.hidden = true;
      sayIn(status, '');
      const v = read();
      const what = isNew ? 'Not created' : 'Not saved';
      if (!v.name) {
        setFieldError('room-name', 'Enter a name.');
        sayIn(status, `${what}: the room needs a name.`, 'error');
        name.focus();
        return;
      }
      if (!isNew && !v.managers.length) {
        setFieldError('room-managers', 'A room keeps one manager at least.');
        sayIn(status, `${what}: the room needs a manager.`, 'error');
        managers.focus();
        return;
      }
      let r;
      busy = true;
      try {
        if (isNew) {
          const body = { name: v.name, category: v.category, description: v.description,
            privacy: v.privacy, invitations: v.invitations, addin: v.addin, members: v.members };
          if (v.managers.length) body.managers = v.managers;
          if (admin) {
            body.type = v.type;
            body.presenters = v.presenters;
          }
          sayIn(status, 'Creating the room…');
          r = await api('POST', '/rooms', body);
        } else {
          const body = changes(v);
          if (!Object.keys(body).length) {
            sayIn(status, 'Nothing to save: nothing was changed.');
            return;
          }
          body.version = orig.version;
          sayIn(status, 'Saving…');
          r = await api('PUT', '/rooms/' + enc(orig.guid), body);
        }
      } catch (e) {
        sayIn(status, '');
        throw e;
      } finally {
        busy = false;
      }
      if (!alive(ctx)) return;
      if (isNew && (r.status === 201 || r.status === 200)) {
        go(r.data.guid ? '#/rooms/' + enc(r.data.guid) : '#/rooms',
          { text: `Room “${r.data.name || v.name}” created.`, kind: 'ok' });
        return;
      }
      if (!isNew && r.status === 200) {
        orig = r.data;
        fill(orig);
        sayIn(status, 'Saved.', 'ok');
        return;
      }
      sayIn(status, '');
      refused(r, what);
    });

    fill(room);
    if (room && room.may && room.may.edit === false) {
      save.hidden = true;
      ctx.main.append(h('p', { class: 'note', id: 'room-read-only',
        text: 'You may see this room but not change it: only its managers can.' }));
    }
    ctx.main.append(form);
    if (deleteBox) ctx.main.append(deleteBox);
  }

  // ---------------------------------------------------------- administration: categories

  const listOf = (d, member) => (Array.isArray(d) ? d : Array.isArray(d[member]) ? d[member] : []);
  const countText = (v) => (Array.isArray(v) ? String(v.length) : v === undefined || v === null
    ? '' : String(v));

  async function viewCategories(ctx) {
    const loading = startView(ctx, 'Categories');
    const r = await api('GET', '/admin/categories');
    if (!alive(ctx)) return;
    loading.remove();
    if (r.status !== 200) {
      ctx.main.append(h('p', { class: 'error', text: refusalText(r) }));
      return;
    }
    const rows = listOf(r.data, 'categories').map((c) => h('tr', { data: { guid: c.guid } },
      h('td', { data: { key: 'name' } }, h('a', { class: 'category-link',
        href: '#/admin/categories/' + enc(c.guid), text: c.name })),
      h('td', { data: { key: 'description' }, text: c.description || '' }),
      h('td', { data: { key: 'rooms' }, text: countText(c.rooms) }),
      h('td', { data: { key: 'file_upload' }, text: yesNo(c.file_upload) }),
      h('td', { data: { key: 'invitations' }, text: yesNo(c.invitations) }),
      h('td', { data: { key: 'chat_history' }, text: yesNo(c.chat_history) }),
      h('td', { data: { key: 'allowed' }, text: (c.allowed || []).join(', ') }),
      h('td', { data: { key: 'denied' }, text: (c.denied || []).join(', ') }),
      h('td', { data: { key: 'creators' }, text: (c.creators || []).join(', ') })));
    ctx.main.append(
      h('p', { class: 'actions' }, h('a', { id: 'categories-create', class: 'button primary',
        href: '#/admin/categories/new', text: 'Create a category' })),
      h('h2', { id: 'categories-heading', text: 'Every category' }),
      table('admin-categories', 'categories-heading', [['name', 'Name'],
        ['description', 'Description'], ['rooms', 'Rooms'], ['file_upload', 'File upload'],
        ['invitations', 'Invitations'], ['chat_history', 'Chat history'],
        ['allowed', 'Allowed'], ['denied', 'Denied'], ['creators', 'Creators']],
      rows, 'There are no categories.'));
  }

  const CATEGORY_FIELDS = {
    name: 'cat-name', description: 'cat-description', file_upload: 'cat-file-upload',
    invitations: 'cat-invitations', chat_history: 'cat-chat-history', allowed: 'cat-allowed',
    denied: 'cat-denied', creators: 'cat-creators',
  };

  async function viewCategory(ctx) {
    const guid = ctx.params.guid || null;
    const loading = startView(ctx, guid ? 'Edit a category' : 'Create a category');
    let cat = null;
    if (guid) {
      const r = await api('GET', '/admin/categories');
      if (!alive(ctx)) return;
      cat = r.status === 200 ? listOf(r.data, 'categories').find((c) => c.guid === guid) : null;
      if (!cat) {
        loading.remove();
        ctx.main.append(h('p', { class: 'error', id: 'cat-load-error', text: r.status === 200
          ? 'There is no such category.' : refusalText(r) }),
        h('p', null, h('a', { href: '#/admin/categories', text: 'Back to the categories' })));
        return;
      }
      setTitle(`Edit category “${cat.name}”`);
    }
    loading.remove();
    const isNew = !cat;
    let busy = false;
    const name = h('input', { type: 'text', maxlength: TEXT_MAX, autocomplete: 'off',
      required: true });
    const description = h('textarea', { rows: 3, maxlength: TEXT_MAX });
    const fileUpload = checkbox('cat-file-upload', 'File upload',
      'Members may post files in the rooms.');
    const invitations = checkbox('cat-invitations', 'Invitations',
      'Rooms that inherit invitations send them.');
    const chatHistory = checkbox('cat-chat-history', 'Chat history',
      'The rooms keep their history.');
    const allowed = h('textarea', { rows: 3, autocomplete: 'off', spellcheck: 'false' });
    const denied = h('textarea', { rows: 3, autocomplete: 'off', spellcheck: 'false' });
    const creators = h('textarea', { rows: 3, autocomplete: 'off', spellcheck: 'false' });
    const status = liveRegion('cat-status');
    const save = h('button', { type: 'submit', id: 'cat-save', class: 'primary',
      text: isNew ? 'Create the category' : 'Save' });
    const form = h('form', { id: 'cat-form', class: 'card', novalidate: true },
      field('cat-name', 'Name', name, { hint: `Unique; at most ${TEXT_MAX} characters.` }),
      field('cat-description', 'Description', description),
      fileUpload.wrap, invitations.wrap, chatHistory.wrap,
      field('cat-allowed', 'Allowed (the scope)', allowed,
        { hint: 'Who may be in the rooms. ' + PRINCIPALS_HINT }),
      field('cat-denied', 'Denied', denied,
        { hint: 'Taken out of the scope. ' + PRINCIPALS_HINT }),
      field('cat-creators', 'Creators', creators,
        { hint: 'Who may create rooms in the category. ' + PRINCIPALS_HINT }),
      status,
      h('div', { class: 'actions' }, save,
        h('a', { class: 'button', id: 'cat-cancel', href: '#/admin/categories', text: 'Cancel' })));

    function fill(c) {
      name.value = c ? c.name || '' : '';
      description.value = c ? c.description || '' : '';
      fileUpload.input.checked = !!(c && c.file_upload);
      invitations.input.checked = !!(c && c.invitations);
      chatHistory.input.checked = c ? !!c.chat_history : true;
      allowed.value = c ? listText(c.allowed) : '';
      denied.value = c ? listText(c.denied) : '';
      creators.value = c ? listText(c.creators) : '';
    }
    fill(cat);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      clearErrors(form);
      const what = isNew ? 'Not created' : 'Not saved';
      const body = {
        name: name.value.trim(), description: description.value,
        file_upload: fileUpload.input.checked, invitations: invitations.input.checked,
        chat_history: chatHistory.input.checked, allowed: parseList(allowed.value),
        denied: parseList(denied.value), creators: parseList(creators.value),
      };
      if (!body.name) {
        setFieldError('cat-name', 'Enter a name.');
        name.focus();
        return;
      }
      busy = true;
      let r;
      try {
        sayIn(status, 'Saving…');
        r = isNew ? await api('POST', '/admin/categories', body)
          : await api('PUT', '/admin/categories/' + enc(cat.guid), body);
      } catch (e) {
        sayIn(status, '');
        throw e;
      } finally {
        busy = false;
      }
      if (!alive(ctx)) return;
      if (r.status === 201 || r.status === 200) {
        if (isNew) {
          go('#/admin/categories', { text: `Category “${body.name}” created.`, kind: 'ok' });
          return;
        }
        if (r.data && r.data.guid) {
          cat = r.data;
          fill(cat);
        }
        setTitle(`Edit category “${body.name}”`);
        sayIn(status, 'Saved.', 'ok');
        return;
      }
      const d = r.data;
      if (r.status === 409) {
        setFieldError('cat-name', d.message || 'A category already has this name.');
        sayIn(status, `${what}: the name is taken.`, 'error');
        name.focus();
      } else if (r.status === 400) {
        const id = CATEGORY_FIELDS[d.field];
        const shown = id && setFieldError(id, d.message || 'This is not valid.');
        sayIn(status, `${what}: ${d.message || 'a value is not valid'}`
          + (d.field && !shown ? ` (${d.field})` : '') + '.', 'error');
        if (shown) focusField(id);
      } else {
        sayIn(status, `${what}: ${refusalText(r)}`, 'error');
      }
    });
    ctx.main.append(form);

    if (!isNew) {
      const del = h('button', { type: 'button', id: 'cat-delete', class: 'danger',
        text: 'Delete the category' });
      const delStatus = liveRegion('cat-delete-status');
      const remove = async () => {
        const r = await api('DELETE', '/admin/categories/' + enc(cat.guid));
        if (!alive(ctx)) return;
        if (r.status === 204 || r.status === 200) {
          go('#/admin/categories', { text: `Category “${cat.name}” deleted.`, kind: 'ok' });
          return;
        }
        sayIn(delStatus, r.status === 409 ? 'Not deleted: the category still has rooms. Move or '
          + 'delete them first.' + (r.data.message ? ` (${r.data.message})` : '')
          : 'Not deleted: ' + refusalText(r), 'error');
        del.focus();
      };
      const box = confirmation('cat-delete', del, 'Yes, delete it', 'No, keep it',
        () => `Delete the category “${cat.name}”? Only a category without rooms can be deleted.`,
        () => remove().catch(handleError));
      ctx.main.append(h('section', { class: 'card danger-zone' }, h('h2', { text: 'Delete' }),
        h('div', { class: 'actions' }, del), box, delStatus));
    }
  }

  // -------------------------------------------------------------- administration: rooms

  async function viewAdminRooms(ctx) {
    startView(ctx, 'All rooms').remove();
    const name = h('input', { type: 'search', autocomplete: 'off' });
    const category = h('input', { type: 'text', autocomplete: 'off' });
    const count = liveRegion('admin-rooms-count');
    const results = h('div', { id: 'admin-rooms-results' });
    const form = h('form', { id: 'admin-rooms-form', class: 'card search', role: 'search' },
      field('admin-rooms-name', 'Name contains', name),
      field('admin-rooms-category', 'Category', category, { hint: 'The category\'s name.' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'admin-rooms-search',
        class: 'primary', text: 'Search' })));
    async function search() {
      const q = new URLSearchParams();
      if (name.value.trim()) q.set('name', name.value.trim());
      if (category.value.trim()) q.set('category', category.value.trim());
      const got = await searchFor(ctx, count, results, '/admin/rooms', q.toString());
      if (!got) return;
      const rooms = listOf(got, 'rooms');
      sayIn(count, plural(rooms.length, 'room', 'rooms') + (got.truncated
        ? ': the first 500; narrow the search to see others.' : '.'));
      results.replaceChildren(h('h2', { id: 'admin-rooms-heading', class: 'visually-hidden',
        text: 'Rooms found' }), table('admin-rooms', 'admin-rooms-heading', roomColumns(true),
        roomRows(rooms, () => true, true), 'No room matches.'));
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      search().catch(handleError);
    });
    ctx.main.append(form, count, results);
    await search();
  }

  // ----------------------------------------------------------- administration: settings

  function settingKind(s) {
    const v = s.value !== null && s.value !== undefined ? s.value : s.default;
    return typeof v;
  }

  function settingControl(s, id) {
    const kind = settingKind(s);
    const shown = s.value !== null && s.value !== undefined ? s.value : s.default;
    if (kind === 'boolean') {
      const sel = h('select', { id, class: 'setting-value' },
        h('option', { value: 'true', text: 'On' }), h('option', { value: 'false', text: 'Off' }));
      sel.value = shown ? 'true' : 'false';
      return sel;
    }
    return h('input', { id, class: 'setting-value', type: 'text', autocomplete: 'off',
      inputmode: kind === 'number' ? 'numeric' : null, spellcheck: 'false',
      value: shown === null || shown === undefined ? '' : String(shown) });
  }

  // The control's value in the setting's own type; undefined when it is not one.
  function settingValue(s, ctl) {
    const kind = settingKind(s);
    const text = ctl.value.trim();
    if (kind === 'boolean') return text === 'true';
    if (kind === 'number') return text !== '' && isFinite(Number(text)) ? Number(text) : undefined;
    return ctl.value;
  }

  const valueText = (v) => (v === null || v === undefined ? '' : typeof v === 'boolean'
    ? (v ? 'On' : 'Off') : String(v));

  async function viewSettings(ctx) {
    const loading = startView(ctx, 'Settings');
    const status = liveRegion('settings-status');
    const holder = h('div');
    ctx.main.append(h('p', { text: 'The pool\'s settings. A value saved here applies to every '
      + 'node; "Reset" goes back to the default.' }), status, holder);

    async function load(focusName, focusClass) {
      const r = await api('GET', '/admin/settings');
      if (!alive(ctx)) return;
      loading.remove();
      if (r.status !== 200) {
        sayIn(status, refusalText(r), 'error');
        return;
      }
      const rows = listOf(r.data, 'settings').map((s, i) => {
        const id = 'setting-' + i;
        const ctl = settingControl(s, id);
        const saveBtn = h('button', { type: 'button', class: 'setting-save', text: 'Save',
          'aria-label': `Save ${s.name}` });
        const resetBtn = h('button', { type: 'button', class: 'setting-reset', text: 'Reset',
          'aria-label': `Reset ${s.name} to its default` });
        const put = async (value, done) => {
          clearErrors(holder);
          const r2 = await api('PUT', '/admin/settings', { [s.name]: value });
          if (!alive(ctx)) return;
          if (r2.status === 200 || r2.status === 204) {
            sayIn(status, done, 'ok');
            await load(s.name, value === null ? 'setting-reset' : 'setting-save');
          } else {
            ctl.setAttribute('aria-invalid', 'true');
            ctl.classList.add('invalid');
            sayIn(status, `${s.name} not saved: ${refusalText(r2)}`, 'error');
          }
        };
        saveBtn.addEventListener('click', () => {
          const value = settingValue(s, ctl);
          if (value === undefined) {
            ctl.setAttribute('aria-invalid', 'true');
            ctl.classList.add('invalid');
            sayIn(status, `${s.name} not saved: a number is needed.`, 'error');
            ctl.focus();
            return;
          }
          put(value, `${s.name} saved.`).catch(handleError);
        });
        resetBtn.addEventListener('click', () => {
          put(null, `${s.name} is back to its default.`).catch(handleError);
        });
        return h('tr', { data: { name: s.name } },
          h('th', { scope: 'row', data: { key: 'name' } }, h('label', { for: id, text: s.name })),
          h('td', { data: { key: 'value' } }, ctl),
          h('td', { class: 'setting-default', data: { key: 'default' }, text: valueText(s.default) }),
          h('td', { class: 'row-actions' }, saveBtn, resetBtn));
      });
      holder.replaceChildren(h('h2', { id: 'settings-heading', class: 'visually-hidden',
        text: 'Every setting' }), table('admin-settings', 'settings-heading',
        [['name', 'Name'], ['value', 'Value'], ['default', 'Default'], ['actions', 'Change']],
        rows, 'There are no settings.'));
      if (focusName) {
        for (const tr of holder.querySelectorAll('tr[data-name]')) {
          if (tr.dataset.name === focusName) tr.querySelector('.' + focusClass).focus();
        }
      }
    }
    await load();
  }

  // --------------------------------------------------------- administration: moderation

  async function viewModeration(ctx) {
    startView(ctx, 'Moderation').remove();
    const inputs = {
      room: h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }),
      user: h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' }),
      keyword: h('input', { type: 'text', autocomplete: 'off' }),
      after: h('input', { type: 'datetime-local', step: 1 }),
      before: h('input', { type: 'datetime-local', step: 1 }),
    };
    const count = liveRegion('mod-count');
    const results = h('div', { id: 'mod-results' });
    const form = h('form', { id: 'mod-form', class: 'card search', role: 'search' },
      field('mod-room', 'Room', inputs.room, { hint: 'The room\'s name or address.' }),
      field('mod-user', 'Author', inputs.user, { hint: 'sip:alice@example.com' }),
      field('mod-keyword', 'Words', inputs.keyword, { hint: 'Messages that contain them.' }),
      field('mod-after', 'After (your local time)', inputs.after),
      field('mod-before', 'Before (your local time)', inputs.before),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'mod-search',
        class: 'primary', text: 'Find messages' })));

    // The filters given, times in UTC.
    function filters() {
      const f = {};
      for (const k of ['room', 'user', 'keyword']) {
        if (inputs[k].value.trim()) f[k] = inputs[k].value.trim();
      }
      for (const k of ['after', 'before']) {
        if (inputs[k].value) {
          const d = new Date(inputs[k].value);
          if (!isNaN(d.getTime())) f[k] = d.toISOString();
        }
      }
      return f;
    }

    async function search() {
      const got = await searchFor(ctx, count, results, '/admin/messages',
        new URLSearchParams(filters()).toString());
      if (!got) return;
      const messages = listOf(got, 'messages');
      sayIn(count, plural(messages.length, 'message', 'messages') + (messages.length >= 200
        ? ': the last 200; narrow the search to see others.' : '.'));
      const known = ['seq', 'time', 'author', 'text', 'moderated'];
      const extra = [];
      for (const m of messages) {
        for (const k of Object.keys(m)) if (!known.includes(k) && !extra.includes(k)) extra.push(k);
      }
      const rows = messages.map((m) => h('tr', { data: { seq: m.seq } },
        h('td', { data: { key: 'seq' }, text: m.seq }),
        h('td', { data: { key: 'time' } }, timeCell(m.time)),
        h('td', { data: { key: 'author' }, text: m.author }),
        h('td', { class: 'message-text', data: { key: 'text' }, text: m.text }),
        h('td', { data: { key: 'moderated' }, text: yesNo(m.moderated) }),
        extra.map((k) => h('td', { data: { key: k } }, inline(m[k])))));
      results.replaceChildren(h('h2', { id: 'mod-heading', text: 'Messages found' }),
        table('mod-messages', 'mod-heading', [['seq', 'No.'], ['time', 'Time'],
          ['author', 'Author'], ['text', 'Text'], ['moderated', 'Moderated']]
          .concat(extra.map((k) => [k, humanize(k)])), rows, 'No message matches.'));
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      search().catch(handleError);
    });

    const replacement = h('textarea', { rows: 2, value: REPLACEMENT });
    const replaceBtn = h('button', { type: 'button', id: 'mod-replace', class: 'danger',
      text: 'Replace matching messages' });
    const modStatus = liveRegion('mod-status');
    const ask = () => {
      const f = filters();
      const given = Object.keys(f);
      if (!given.length) {
        sayIn(modStatus, 'Give one filter at least (room, author, words, after or before).', 'error');
        return null;
      }
      sayIn(modStatus, '');
      return 'Replace the text of every message that matches '
        + given.map((k) => `${k} “${f[k]}”`).join(', ')
        + ' (not only those shown)? The old text cannot be brought back.';
    };
    const replace = async () => {
      const body = Object.assign(filters(), { replacement: replacement.value || REPLACEMENT });
      sayIn(modStatus, 'Replacing…');
      const r = await api('POST', '/admin/messages/replace', body);
      if (!alive(ctx)) return;
      replaceBtn.focus();
      if (r.status !== 200) {
        sayIn(modStatus, 'Not replaced: ' + refusalText(r), 'error');
        return;
      }
      const n = Number(r.data.replaced) || 0;
      sayIn(modStatus, `Replaced ${plural(n, 'message', 'messages')}.`, 'ok');
      await search();
    };
    const box = confirmation('mod-replace', replaceBtn, 'Yes, replace them', 'No', ask,
      () => replace().catch(handleError));

    ctx.main.append(form, count, results,
      h('section', { class: 'card' }, h('h2', { text: 'Replace matching messages' }),
        h('p', { text: 'Every message that matches the filters above gets this text instead. '
          + 'Chat clients see the new text in the room\'s history.' }),
        field('mod-replacement', 'Replacement text', replacement),
        h('div', { class: 'actions' }, replaceBtn), box, modStatus));
  }

  // ---------------------------------------------------- administration: pool, compliance

  const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

  // A value inside a table cell: scalars as text, lists of scalars joined, anything else as JSON.
  function inline(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'boolean') return yesNo(v);
    if (Array.isArray(v) && v.every((x) => !isPlainObject(x) && !Array.isArray(x))) {
      return v.join(', ');
    }
    if (typeof v === 'object') return h('code', { text: JSON.stringify(v) });
    return String(v);
  }

  // Any JSON value as HTML: a list of objects as a table, an object as a definition list.
  function generic(v, testid, headingId) {
    if (Array.isArray(v)) {
      if (!v.length) return h('p', { class: 'empty', testid, text: 'None.' });
      if (v.every(isPlainObject)) {
        const keys = [];
        for (const o of v) for (const k of Object.keys(o)) if (!keys.includes(k)) keys.push(k);
        const rows = v.map((o) => h('tr', null, keys.map((k) => h('td', { data: { key: k } },
          inline(o[k])))));
        return table(testid, headingId, keys.map((k) => [k, humanize(k)]), rows, 'None.');
      }
      return h('ul', { testid }, v.map((x) => h('li', null, isPlainObject(x) || Array.isArray(x)
        ? generic(x) : inline(x))));
    }
    if (isPlainObject(v)) {
      const dl = h('dl', { class: 'facts', testid });
      for (const [k, x] of Object.entries(v)) {
        dl.append(h('dt', { data: { key: k }, text: humanize(k) }),
          h('dd', { data: { key: k } }, isPlainObject(x) || (Array.isArray(x) && x.some(isPlainObject))
            ? generic(x) : inline(x)));
      }
      return dl;
    }
    return h('p', { testid }, inline(v));
  }

  async function viewPool(ctx) {
    const loading = startView(ctx, 'Pool');
    const holder = h('div', { id: 'pool-content' });
    const refresh = h('button', { type: 'button', id: 'pool-refresh', text: 'Refresh' });
    async function load() {
      const r = await api('GET', '/admin/pool');
      if (!alive(ctx)) return;
      loading.remove();
      if (r.status !== 200) {
        holder.replaceChildren(h('p', { class: 'error', text: refusalText(r) }));
        return;
      }
      holder.replaceChildren(...Object.entries(r.data).map(([k, v]) => {
        const headingId = 'pool-heading-' + k.replace(/[^A-Za-z0-9_-]/g, '-');
        return h('section', { class: 'pool-part', testid: 'pool-' + k + '-section' },
          h('h2', { id: headingId, text: humanize(k) }), generic(v, 'pool-' + k, headingId));
      }));
    }
    refresh.addEventListener('click', () => load().catch(handleError));
    ctx.main.append(h('p', { class: 'actions' }, refresh), holder);
    await load();
  }

  async function viewCompliance(ctx) {
    const loading = startView(ctx, 'Compliance');
    const r = await api('GET', '/admin/compliance');
    if (!alive(ctx)) return;
    loading.remove();
    if (r.status !== 200) {
      ctx.main.append(h('p', { class: 'error', text: refusalText(r) }));
      return;
    }
    const dl = generic(r.data, 'compliance-status');
    dl.id = 'compliance-status';
    ctx.main.append(h('p', { text: 'The compliance service\'s status.' }), dl);
  }

  // ------------------------------------------------------------------------------- start

  function handleError(e) {
    if (e instanceof Handled) return;
    console.error(e);
    say('Something went wrong: ' + (e && e.message), 'error');
  }

  // Who is signed in (a session cookie, or single sign-on that makes one), then the route.
  async function boot() {
    let r;
    try {
      r = await api('GET', '/me', undefined, { own401: true });
    } catch (e) {
      if (!(e instanceof Handled)) throw e;
      unavailable();
      return;
    }
    if (r.status === 200) {
      state.me = r.data;
    } else if (r.status !== 401) {
      say(refusalText(r), 'error');
      unavailable();
      return;
    }
    render();
  }

  function unavailable() {
    const main = byId('main');
    document.title = `Not available – ${APP}`;
    const h1 = h('h1', { id: 'page-title', tabindex: '-1', text: 'The service is not available' });
    main.replaceChildren(h1, h('p', { text: 'The page could not reach the chat service.' }),
      h('p', { class: 'actions' }, h('button', { type: 'button', id: 'retry', class: 'primary',
        text: 'Try again', onclick: () => boot().catch(handleError) })));
    h1.focus();
  }

  function start() {
    window.addEventListener('hashchange', () => {
      render().catch(handleError);
    });
    byId('logout').addEventListener('click', () => logout().catch(handleError));
    byId('skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      (byId('page-title') || byId('main')).focus();
    });
    window.addEventListener('unhandledrejection', (ev) => {
      if (ev.reason instanceof Handled) ev.preventDefault();
    });
    boot().catch(handleError);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
