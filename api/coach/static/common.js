/* Shared helpers of the coach and educator pages, as one global namespace: window.pdrecUI.
 *
 * Plain JavaScript, no build step, no third-party code. DOM building (el, sv), formatting
 * (pct, hours, human, fmtDate, ago), the status line (say, fail), and api(): the /v1 fetch
 * wrapper with the session cookie and, on POST, the page's CSRF token. Loaded before each
 * page's own script, which takes what it needs from window.pdrecUI.
 */
"use strict";

window.pdrecUI = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const CSRF = meta ? meta.content : "";
  const SVGNS = "http://www.w3.org/2000/svg";

  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k === "cls" ? "class" : k, v === true ? "" : String(v));
    }
  }

  function append(node, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  /** An HTML element: attrs (cls for class, text, on<event> handlers) and children. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  /** The same for an SVG element. */
  function sv(tag, attrs, ...children) {
    const node = document.createElementNS(SVGNS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  const pct = (p) => `${Math.round(p * 100)}%`;
  const hours = (h) => `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
  const human = (s) => String(s || "").replace(/_/g, " ");
  const dateFmt = new Intl.DateTimeFormat("en-GB", {day: "numeric", month: "short", year: "numeric"});
  const fmtDate = (iso) => (iso ? dateFmt.format(new Date(iso)) : "none");
  const enc = encodeURIComponent;

  function ago(iso) {
    if (!iso) return "";
    const days = Math.floor((Date.now() - new Date(iso).getTime()) / 86400000);
    if (days < 1) return "today";
    if (days < 2) return "yesterday";
    if (days < 60) return `${days} days ago`;
    return `${Math.round(days / 30)} months ago`;
  }

  /** The page's status line (#status): kind is info, ok or error. */
  function say(message, kind = "info") {
    const box = document.getElementById("status");
    box.textContent = message;
    box.className = `status show ${kind}`;
  }

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  /** GET path; with a body, send it as JSON with the CSRF token (POST unless method says
   * otherwise); a 401 goes back to sign-in. */
  async function api(path, body, method = "POST") {
    const opts = {credentials: "same-origin", headers: {Accept: "application/json"}};
    if (body !== undefined) {
      opts.method = method;
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = CSRF;
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    if (r.status === 401) {
      location.assign(`/coach?next=${encodeURIComponent(location.pathname)}`);
      throw new ApiError("signed out", 401);
    }
    const data = (r.headers.get("content-type") || "").includes("json") ? await r.json() : null;
    if (!r.ok) throw new ApiError((data && data.error && data.error.message) || r.statusText, r.status);
    return data;
  }

  /** A view is fully drawn: the browser tests wait for body[data-ready] and read the time. */
  function markReady() {
    window.coachReadyMs = performance.now();
    document.body.dataset.ready = "true";
  }

  /** Report a failed load on the status line (and in place of a still-loading page). */
  function fail(err) {
    if (err && err.status === 401) return;
    say(`Could not load: ${err && err.message ? err.message : err}`, "error");
    const m = document.getElementById("main");
    if (m && m.querySelector(".loading")) {
      m.replaceChildren(el("p", {cls: "alert", role: "alert", text: `Could not load this page: ${err.message}`}));
    }
  }

  /** An educator's profile in one line: role · subject · grade band · years. */
  function profileText(p) {
    const bits = [human(p.role), p.subject, p.grade_band && `${p.grade_band} grades`,
      p.years_experience !== undefined && p.years_experience !== null && `${p.years_experience} yrs`];
    return bits.filter(Boolean).join(" · ") || "no profile";
  }

  /** A labelled progress bar; its width is set by sizeBars once in the document. */
  function progressBar(mastered, total, label) {
    const share = total ? mastered / total : 0;
    return el("div", {cls: "progress"},
      el("span", {cls: "bar", "aria-hidden": "true"},
        el("span", {cls: "fill", "data-w": share})),
      el("span", {cls: "progress-text", text: label}));
  }

  function sizeBars(root) {  // widths through the CSSOM: the CSP forbids inline style attributes
    for (const f of root.querySelectorAll("[data-w]")) f.style.width = `${Math.round(Math.min(1, f.dataset.w) * 100)}%`;
  }

  return Object.freeze({el, sv, setAttrs, append, pct, hours, human, fmtDate, ago, enc, say,
    ApiError, api, markReady, fail, profileText, progressBar, sizeBars});
})();
