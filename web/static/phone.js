// The phone page of the live workshop: join, vote, place the case on the matrix, see results.
// Talks to /phone/api/* (JSON, token in "Authorization: Bearer"); follows the workshop through
// Server-Sent Events. A vote or placement is shown as saved only after the server answered 200.
(() => {
  "use strict";

  const PAYLOAD = JSON.parse(document.getElementById("phone-texts").textContent);
  const LANG = PAYLOAD.lang;
  const TEXTS = PAYLOAD.texts;
  const LOOK = PAYLOAD.look;
  const OTHER_LANG = LANG === "sv" ? "en" : "sv";
  const CODE_LENGTH = 6;
  const RETRY_MAX_MS = 30000;
  const $ = (id) => document.getElementById(id);

  // --- texts -------------------------------------------------------------------------------

  function t(key, values) {
    const text = TEXTS[key];
    if (text === undefined) return key;
    return values ? text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all)) : text;
  }

  function esc(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  // The shared texts mark bold words as **word** (Streamlit markdown): escape, then <strong>.
  function rich(text) {
    return esc(text).replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>");
  }

  function voteLabel(value) {
    return `${LOOK.vote_icons[value]} ${t("ws.vote." + value)}`;
  }

  function normalizeCode(text) {
    return (text || "").toUpperCase().replace(/[\s-]/g, "");
  }

  // --- what the phone knows ---------------------------------------------------------------

  const app = {
    code: normalizeCode(new URLSearchParams(location.search).get("code")),
    token: null,
    state: null,  // the shared state, from /state or the event stream (its "me" is not used)
    me: null,     // side, role, votes and placements: from /state, then kept current by our own saves
    source: null,
    retries: 0,
    retryTimer: null,
    lookupTimer: null,
    lookupSeq: 0,
    lastBody: "",
    lastChange: "",
  };
  const saves = {};  // "vote" or "step:<id>" -> {want, sending}: one request at a time, the latest tap wins

  function tokenKey(code) {
    return `ws-token-${code}`;
  }

  function loadToken(code) {
    try { return localStorage.getItem(tokenKey(code)); } catch (e) { return null; }
  }

  function storeToken(code, token) {
    try { localStorage.setItem(tokenKey(code), token); } catch (e) { /* private mode: kept for this page only */ }
  }

  function forgetToken() {
    try { localStorage.removeItem(tokenKey(app.code)); } catch (e) { /* nothing stored */ }
    app.token = null;
    app.me = null;
    app.state = null;
    for (const key of Object.keys(saves)) delete saves[key];
  }

  // --- server ------------------------------------------------------------------------------

  function apiUrl(path, query) {
    const params = new URLSearchParams(query || {});
    params.set("lang", LANG);
    return `/phone/api/${path}?${params}`;
  }

  async function api(method, path, query, body, anonymous) {
    const headers = {"Accept": "application/json"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (app.token && !anonymous) headers["Authorization"] = "Bearer " + app.token;
    let response;
    try {
      response = await fetch(apiUrl(path, query), {method, headers, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      return {ok: false, status: 0, error: {code: "network", message: t("phone.page.network_error")}};
    }
    let data = null;
    try { data = await response.json(); } catch (e) { /* not JSON: a proxy's error page */ }
    if (response.ok) return {ok: true, status: response.status, data};
    const error = data && data.error && data.error.message ? data.error
      : {code: `http_${response.status}`, message: t("phone.page.network_error")};
    return {ok: false, status: response.status, error};
  }

  function showAlert(message) {
    $("alert").textContent = message || "";
  }

  function announce(message) {
    if (message) $("status").textContent = message;
  }

  function refused(result) {
    if (result.status === 401) {
      leave("phone.page.forgotten", "warn");
      return;
    }
    showAlert(result.error.message);
  }

  // --- live updates --------------------------------------------------------------------------

  function connect() {
    disconnect();
    const source = new EventSource(apiUrl("events", {code: app.code}));
    app.source = source;
    source.addEventListener("state", (event) => {
      let shared;
      try { shared = JSON.parse(event.data); } catch (e) { return; }
      takeShared(shared);
    });
    source.onopen = () => {
      const wasOffline = app.retries > 0;
      app.retries = 0;
      setOffline(false, wasOffline);
      if (wasOffline) refreshMine();  // what happened to our own saves while away
    };
    source.onerror = () => {
      if (app.source !== source) return;
      source.close();  // our own backoff instead of the browser's fixed 3 s
      app.source = null;
      setOffline(true);
      const delay = Math.min(RETRY_MAX_MS, 1000 * 2 ** app.retries) * (0.5 + Math.random() / 2);
      app.retries += 1;
      app.retryTimer = setTimeout(connect, delay);
    };
  }

  function disconnect() {
    clearTimeout(app.retryTimer);
    if (app.source) app.source.close();
    app.source = null;
  }

  function setOffline(offline, wasOffline) {
    const banner = $("connection");
    banner.hidden = !offline;
    banner.textContent = offline ? t("phone.page.offline") : "";
    if (offline) announce(t("phone.page.offline"));
    else if (wasOffline) announce(t("phone.page.online"));
  }

  function takeShared(shared) {
    const before = app.state;
    if (before && shared.version < before.version) return;  // an older picture than we have
    const cardOf = (state) => (state.card ? state.card.id : state.phase);
    if (before && cardOf(before) !== cardOf(shared)) showAlert("");  // a refusal about the last card is old news
    app.state = shared;
    if (shared.phase === "ended") disconnect();
    renderLive();
  }

  async function refreshMine() {
    const result = await api("GET", "state", {code: app.code});
    if (!result.ok) {
      if (result.status === 401) refused(result);
      return;
    }
    takeMine(result.data);
  }

  function takeMine(state) {
    app.me = state.me;
    app.code = state.code;
    takeShared(state);
  }

  // --- saving a vote or a placement ------------------------------------------------------

  function save(key, path, body, saved) {
    const slot = saves[key] || (saves[key] = {want: null, sending: null});
    slot.want = body;
    showAlert("");
    renderLive();
    if (!slot.sending) pump(slot, path, saved);
  }

  async function pump(slot, path, saved) {
    while (slot.want) {
      slot.sending = slot.want;
      slot.want = null;
      const result = await api("POST", path, {}, slot.sending);
      slot.sending = null;
      if (!app.me) return;  // left (or forgotten) meanwhile
      if (result.ok) {
        saved(result.data, !slot.want);
      } else {
        slot.want = null;
        refused(result);
      }
      renderLive();
    }
  }

  function unsaved(key) {
    const slot = saves[key];
    return slot ? (slot.want || slot.sending) : null;
  }

  function castVote(value) {
    const card = app.state && app.state.card;
    if (!card || card.status !== "open" || !app.me) return;
    save("vote", "vote", {card_id: card.id, value}, (data, last) => {
      app.me.votes[data.card_id] = data.value;
      if (last) announce(t("ws.join.your_vote", {vote: voteLabel(data.value)}));
    });
  }

  function placeLevel(stepId, levelId) {
    if (!app.me) return;
    save("step:" + stepId, "place", {step_id: stepId, level_id: levelId}, (data) => {
      app.me.placements[data.step_id] = data.level_id;
    });
  }

  // --- drawing: the live part --------------------------------------------------------------

  function whoYouAre(me) {
    if (!me || !me.side) return "";
    const side = t("ws.group." + me.side).toLowerCase();
    return me.role ? t("ws.join.you_are_role", {side, role: t("workshop.role." + me.role).toLowerCase()})
      : t("ws.join.you_are", {side});
  }

  function contextLine(state) {
    const parts = [state.name];
    if (state.unit) parts.push(state.unit);
    const who = whoYouAre(app.me);
    if (who) parts.push(who);
    return parts.join(" · ");
  }

  function percent(n, total) {
    return total ? Math.round(n / total * 1000) / 10 : null;
  }

  function percentText(value) {
    if (value === null) return "–";
    // Half to even, as Python's format() in the presenter screen's bars.
    const floor = Math.floor(value);
    const whole = Math.abs(value - floor - 0.5) < 1e-9 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(value);
    return `${whole} %`;
  }

  // The bars of views_support.tally_bar_html: icon and number on every segment, never colour alone.
  function tallyBar(counts, group) {
    const total = counts.total || 0;
    const segments = [];
    for (const value of LOOK.votes) {
      const n = counts[value] || 0;
      if (!n) continue;
      const share = percent(n, total);
      const inside = share >= 12 ? `${LOOK.vote_glyphs[value]} ${n}` : "";
      segments.push(`<div class="ws-seg ws-seg-${value}" style="width:${share}%" `
        + `title="${esc(voteLabel(value))}: ${n}">${esc(inside)}</div>`);
    }
    if (!segments.length) segments.push(`<div class="ws-seg ws-seg-empty">${esc(t("ws.tally.no_votes"))}</div>`);
    const legend = LOOK.votes.map((value) => {
      const n = counts[value] || 0;
      return `<span class="ws-num ws-num-${value}" data-value="${value}" data-count="${n}">`
        + `${esc(voteLabel(value))} <b>${n}</b> (${percentText(percent(n, total))})</span>`;
    }).join(" · ");
    return `<div class="ws-tally" data-group="${group}" data-total="${total}">`
      + `<div class="ws-tally-head"><span class="ws-group">${esc(LOOK.group_icons[group] + " " + t("ws.group." + group))}</span>`
      + `<span class="ws-votes">${esc(t("ws.tally.votes", {n: total}))}</span></div>`
      + `<div class="ws-bar">${segments.join("")}</div><div class="ws-legend">${legend}</div></div>`;
  }

  function resultsHtml(inner) {
    return `<section class="results" aria-labelledby="results-title"><h2 id="results-title">${esc(t("ws.join.results"))}</h2>${inner}</section>`;
  }

  function statementHtml(state) {
    const card = state.card;
    if (!card) {
      return `<h1>${esc(state.name)}</h1><p class="note info" id="card-status">⏳ ${esc(t("ws.join.pending"))}</p>`;
    }
    const parts = [`<p class="position">${esc(t("ws.fac.position", {n: card.index + 1, of: card.count}))}</p>`,
      `<h1 class="statement" id="statement">${esc(card.text)}</h1>`];
    const mine = app.me.votes[card.id];
    if (card.status === "open") {
      const wanted = unsaved("vote");
      const saving = wanted && wanted.card_id === card.id ? wanted.value : null;
      parts.push(`<div class="votes" role="group" aria-labelledby="statement">`);
      for (const value of LOOK.votes) {
        const classes = `big vote vote-${value}` + (saving === value && mine !== value ? " saving" : "");
        parts.push(`<button type="button" id="vote-${value}" class="${classes}" data-vote="${value}" `
          + `aria-pressed="${mine === value}">${esc(voteLabel(value))}</button>`);
      }
      parts.push(`</div>`);
      if (saving && saving !== mine) {
        parts.push(`<p class="note info" id="card-status">${esc(t("phone.page.vote_saving", {vote: voteLabel(saving)}))}</p>`);
      } else if (mine) {
        parts.push(`<p class="note ok" id="card-status">${esc(t("ws.join.your_vote", {vote: voteLabel(mine)}))}</p>`);
      } else {
        parts.push(`<p class="note info" id="card-status">${esc(t("ws.join.please_vote"))}</p>`);
      }
    } else if (card.status === "pending") {
      parts.push(`<p class="note info" id="card-status">⏳ ${esc(t("ws.join.pending"))}</p>`);
    } else {
      parts.push(`<p class="note warn" id="card-status">🔒 ${esc(t("ws.join.closed"))}</p>`);
      if (mine) parts.push(`<p id="closed-vote">${esc(t("ws.join.your_vote_closed", {vote: voteLabel(mine)}))}</p>`);
    }
    if (state.revealed && state.tally) {
      parts.push(resultsHtml(LOOK.groups.map((group) => tallyBar(state.tally[group] || {}, group)).join("")));
    }
    return parts.join("");
  }

  function matrixHtml(state) {
    const matrix = state.matrix || {steps: [], levels: [], result: null};
    const levelName = Object.fromEntries(matrix.levels.map((level) => [level.id, level.name]));
    const parts = [`<h1>${esc(t("ws.join.matrix_title"))}</h1>`, `<p>${rich(t("ws.join.matrix_help"))}</p>`];
    matrix.steps.forEach((step, i) => {
      const saved = app.me.placements[step.id];
      const wanted = unsaved("step:" + step.id);
      const shown = wanted ? wanted.level_id : saved;
      const help = step.description ? `<p class="step-help" id="step-help-${i}">${esc(step.description)}</p>` : "";
      parts.push(`<fieldset class="step" data-step-index="${i}"${help ? ` aria-describedby="step-help-${i}"` : ""}>`
        + `<legend>${i + 1}. ${esc(step.name)}</legend>${help}`);
      matrix.levels.forEach((level, j) => {
        parts.push(`<label class="choice" for="place-${i}-${j}"><input type="radio" id="place-${i}-${j}" `
          + `name="place-${i}" data-step="${esc(step.id)}" value="${esc(level.id)}"${shown === level.id ? " checked" : ""}>`
          + `<span>${esc(level.name)}</span></label>`);
      });
      if (wanted && wanted.level_id !== saved) {
        parts.push(`<p class="saved-caption pending" id="placed-${i}">${esc(t("phone.page.saving"))}</p>`);
      } else if (saved) {
        parts.push(`<p class="saved-caption" id="placed-${i}">${esc(t("ws.join.placed", {level: levelName[saved] || saved}))}</p>`);
      }
      parts.push(`</fieldset>`);
    });
    if (state.revealed && matrix.result) {
      const stepName = Object.fromEntries(matrix.steps.map((step) => [step.id, step.name]));
      const lines = matrix.result.map((item, i) => `<li data-step="${esc(item.step_id)}" data-level="${esc(item.level_id)}">`
        + rich(t("ws.join.matrix_result", {n: i + 1, step: stepName[item.step_id] || item.step_id,
          level: levelName[item.level_id] || item.level_id, answered: item.answered})) + `</li>`);
      parts.push(resultsHtml(`<ul class="matrix-result">${lines.join("")}</ul>`));
    }
    return parts.join("");
  }

  function liveHtml(state) {
    if (state.phase === "ended") {
      return `<h1>${esc(state.name)}</h1><p class="note ok" id="card-status">${esc(t("ws.join.ended"))}</p>`;
    }
    return state.phase === "matrix" ? matrixHtml(state) : statementHtml(state);
  }

  // What the live region says when the workshop moves on (a vote's own "saved" is said when saved).
  function spokenChange(state) {
    if (state.phase === "ended") return t("ws.join.ended");
    if (state.phase === "matrix") return t("ws.join.matrix_title") + (state.revealed ? ` – ${t("ws.join.results")}` : "");
    const card = state.card;
    if (!card) return t("ws.join.pending");
    const status = {open: t("ws.join.please_vote"), pending: t("ws.join.pending"), closed: t("ws.join.closed")}[card.status];
    return `${t("ws.fac.position", {n: card.index + 1, of: card.count})}: ${status}`
      + (state.revealed ? ` ${t("ws.join.results")}.` : "");
  }

  function renderLive() {
    if (!app.state || !app.me) return;
    $("context").textContent = contextLine(app.state);
    const body = liveHtml(app.state);
    if (body !== app.lastBody) {
      // Redraw only what changed, and give focus back to the control that had it.
      const focused = document.activeElement && document.activeElement.id;
      $("live-body").innerHTML = body;
      app.lastBody = body;
      if (focused && $(focused) && !$("live-body").contains(document.activeElement)) $(focused).focus();
    }
    const change = spokenChange(app.state);
    if (change !== app.lastChange) {
      app.lastChange = change;
      announce(change);
    }
  }

  // --- views -------------------------------------------------------------------------------

  function showLive() {
    $("join-view").hidden = true;
    $("live-view").hidden = false;
    app.lastBody = "";
    renderLive();
    connect();
  }

  function showJoin(messageKey, kind) {
    disconnect();
    $("live-view").hidden = true;
    $("join-view").hidden = false;
    $("context").textContent = "";
    app.lastBody = "";
    app.lastChange = "";
    const message = $("join-message");
    message.hidden = !messageKey;
    message.className = `note ${kind || "info"}`;
    message.textContent = messageKey ? t(messageKey) : "";
    $("join-code").value = app.code;
    if (messageKey) announce(t(messageKey));
    if (app.code) lookUp(app.code);
  }

  function leave(messageKey, kind) {
    forgetToken();
    showAlert("");
    showJoin(messageKey || "phone.page.left", kind);
  }

  function setLanguageLink() {
    const params = new URLSearchParams();
    if (app.code) params.set("code", app.code);
    if (OTHER_LANG !== "sv") params.set("lang", OTHER_LANG);
    const link = $("lang-link");
    link.href = `/phone?${params}`;
  }

  function setCodeInAddress(code) {
    const params = new URLSearchParams(location.search);
    params.set("code", code);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }

  // --- the join form ----------------------------------------------------------------------

  function choice(name, value, label, checked, id) {
    return `<label class="choice" for="${id}"><input type="radio" id="${id}" name="${name}" value="${esc(value)}"`
      + `${checked ? " checked" : ""}><span>${esc(label)}</span></label>`;
  }

  function buildJoinForm() {
    $("join-title").textContent = t("ws.join.title");
    $("join-code-label").textContent = t("ws.join.code");
    $("join-code").placeholder = t("phone.page.code_placeholder");
    $("join-side-legend").textContent = t("ws.join.side");
    $("join-side-options").innerHTML = LOOK.sides
      .map((side) => choice("side", side, t("workshop.side." + side), false, `side-${side}`)).join("");
    $("join-roles").innerHTML = LOOK.sides.map((side) => `<fieldset class="choices" id="roles-${side}" hidden>`
      + `<legend>${esc(t("ws.join.role"))}</legend><div class="chips">`
      + choice(`role-${side}`, "", t("phone.page.role_none"), true, `role-${side}-none`)
      + LOOK.roles[side].map((role) => choice(`role-${side}`, role, t("workshop.role." + role), false, `role-${side}-${role}`)).join("")
      + `</div></fieldset>`).join("");
    $("join-anonymous").textContent = t("ws.join.anonymous");
    $("join-submit").textContent = t("ws.join.submit");
    $("leave").textContent = t("phone.page.leave");
    $("lang-nav").setAttribute("aria-label", t("phone.page.language"));
    $("lang-nav").innerHTML = `<a id="lang-link" lang="${OTHER_LANG}" hreflang="${OTHER_LANG}">${esc(t("phone.page.switch_lang"))}</a>`;
    setLanguageLink();
  }

  function chosenSide() {
    const checked = document.querySelector('input[name="side"]:checked');
    return checked ? checked.value : "";
  }

  function showRoles() {
    const side = chosenSide();
    for (const each of LOOK.sides) $(`roles-${each}`).hidden = each !== side;
  }

  // The workshop's name once the code is known; an ended workshop says so instead of the form.
  async function lookUp(code) {
    const seq = ++app.lookupSeq;
    const result = await api("GET", "state", {code}, undefined, true);  // a look-up names no participant
    if (seq !== app.lookupSeq) return;
    const info = $("join-workshop");
    const ended = $("join-ended");
    if (!result.ok) {
      info.hidden = true;
      ended.hidden = true;
      $("join-choices").hidden = false;
      showAlert(result.error.message);
      return;
    }
    showAlert("");
    const state = result.data;
    info.innerHTML = rich(t("ws.join.workshop", {name: state.name, unit: state.unit || "–"}));
    info.hidden = false;
    ended.textContent = t("workshop.error.ended");
    ended.hidden = state.phase !== "ended";
    $("join-choices").hidden = state.phase === "ended";
  }

  function codeTyped() {
    const code = normalizeCode($("join-code").value);
    clearTimeout(app.lookupTimer);
    if (code === app.code && !$("join-workshop").hidden) return;
    app.code = code;
    setLanguageLink();
    if (code.length >= CODE_LENGTH) app.lookupTimer = setTimeout(() => lookUp(code), 300);
    else {
      app.lookupSeq += 1;
      $("join-workshop").hidden = true;
      $("join-ended").hidden = true;
      $("join-choices").hidden = false;
    }
  }

  async function join(event) {
    event.preventDefault();
    const code = normalizeCode($("join-code").value);
    const side = chosenSide();
    if (!code) return showAlert(t("ws.join.need_code"));
    if (!side) return showAlert(t("ws.join.need_side"));
    const roleInput = document.querySelector(`input[name="role-${side}"]:checked`);
    const button = $("join-submit");
    if (button.getAttribute("aria-busy") === "true") return;
    button.setAttribute("aria-busy", "true");
    button.textContent = t("phone.page.joining");
    showAlert("");
    const result = await api("POST", "join", {}, {code, side, role: roleInput ? roleInput.value : ""}, true);
    button.removeAttribute("aria-busy");
    button.textContent = t("ws.join.submit");
    if (!result.ok) return showAlert(result.error.message);
    app.code = result.data.code;
    app.token = result.data.token;
    storeToken(app.code, app.token);
    setCodeInAddress(app.code);
    setLanguageLink();
    await start();
  }

  // --- start --------------------------------------------------------------------------------

  async function start() {
    const result = await api("GET", "state", {code: app.code});
    if (result.ok) {
      app.state = null;
      takeMine(result.data);
      if (!app.me) return leave("phone.page.forgotten", "warn");
      showLive();
      return;
    }
    if (result.status === 401) return leave("phone.page.forgotten", "warn");
    if (result.status === 0) {  // no network (a locked phone waking up): keep the token, try again
      showAlert(result.error.message);
      app.retryTimer = setTimeout(start, 3000);
      return;
    }
    forgetToken();
    showJoin();
    showAlert(result.error.message);
  }

  function wire() {
    $("join-form").addEventListener("submit", join);
    $("join-code").addEventListener("input", codeTyped);
    $("join-side-options").addEventListener("change", showRoles);
    $("leave").addEventListener("click", () => leave());
    $("live-body").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-vote]");
      if (button) castVote(button.dataset.vote);
    });
    $("live-body").addEventListener("change", (event) => {
      const input = event.target;
      if (input.matches('input[type="radio"][data-step]')) placeLevel(input.dataset.step, input.value);
    });
    // A phone woken from sleep: the stream may have died quietly; reconnect at once.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && app.me && !app.source && app.state && app.state.phase !== "ended") {
        app.retries = 0;
        connect();
      }
    });
  }

  buildJoinForm();
  wire();
  app.token = app.code ? loadToken(app.code) : null;
  if (app.token) start();
  else showJoin();
})();
