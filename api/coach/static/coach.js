/* The coach page: the educator list, and an educator's map, next steps and pathway.
 *
 * Plain JavaScript, no build step, no third-party code. Everything is read through the /v1 API
 * with the session cookie; every coach action is a POST /v1/feedback event carrying the page's
 * CSRF token. When a view is fully drawn, <body data-ready="true"> is set and
 * window.coachReadyMs holds performance.now() at that moment (the browser tests read both).
 * The generic helpers (DOM building, formatting, the API wrapper) come from common.js.
 */
"use strict";

(() => {
  const {el, sv, pct, hours, human, fmtDate, ago, enc, say, api, markReady, fail, progressBar,
    sizeBars, profileText} = window.pdrecUI;
  const main = document.getElementById("main");
  const tooltip = document.getElementById("tooltip");
  const K_STEPS = 10;

  /* ------------------------------------------------------------------ educator list */

  async function listView() {
    document.title = "Educators · pdrec";
    const params = new URLSearchParams(location.search);
    let offset = 0;
    const limit = 25;
    const search = el("input", {id: "search", type: "search", value: params.get("q") || "",
      placeholder: "id, role, subject or goal", autocomplete: "off"});
    const count = el("p", {id: "count", cls: "muted", "aria-live": "polite"});
    const tbody = el("tbody");
    const prev = el("button", {cls: "btn", type: "button", text: "Previous page"});
    const next = el("button", {cls: "btn", type: "button", text: "Next page"});
    main.replaceChildren(
      el("h1", {text: "Educators"}),
      el("div", {cls: "toolbar"},
        el("label", {for: "search", text: "Search educators"}), search, count),
      el("table", {cls: "roster"},
        el("caption", {cls: "sr-only", text: "Educators of this tenant, with goals, progress and last evidence"}),
        el("thead", {}, el("tr", {},
          ["Educator", "Profile", "Goals", "Progress toward goals", "Last evidence"].map(
            (t) => el("th", {scope: "col", text: t})))),
        tbody),
      el("nav", {cls: "pager", "aria-label": "Pages"}, prev, next));

    let seq = 0;
    async function load() {
      const mine = ++seq;
      const q = search.value.trim();
      const data = await api(`/v1/educators?limit=${limit}&offset=${offset}${q ? `&search=${enc(q)}` : ""}`);
      if (mine !== seq) return;
      const rows = data.items.map((it) => {
        const scope = it.progress.scope === "goals" ? " (goals and their prerequisites)" : "";
        return el("tr", {},
          el("th", {scope: "row"}, el("a", {href: `/coach/educators/${enc(it.educator_id)}`, text: it.educator_id})),
          el("td", {text: profileText(it.profile)}),
          el("td", {}, it.goals.length
            ? el("ul", {cls: "chips"}, it.goals.map((g) => el("li", {cls: g.mastered ? "chip ok" : "chip"},
              `${g.mastered ? "✓ " : ""}${g.name} (${pct(g.p_mastery)})`)))
            : el("span", {cls: "muted", text: "no goal set"})),
          el("td", {}, progressBar(it.progress.mastered, it.progress.total,
            `${it.progress.mastered} of ${it.progress.total} mastered${scope}`)),
          el("td", {}, it.last_evidence_at
            ? [fmtDate(it.last_evidence_at), el("span", {cls: "muted", text: ` (${ago(it.last_evidence_at)}) · ${it.n_evidence} records`})]
            : el("span", {cls: "muted", text: "no evidence yet"})));
      });
      tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", {colspan: 5, text: "No educator matches."}))]));
      sizeBars(tbody);
      const last = Math.min(offset + limit, data.total);
      count.textContent = data.total ? `Showing ${offset + 1}–${last} of ${data.total} educators` : "No educators";
      prev.disabled = offset === 0;
      next.disabled = last >= data.total;
      markReady();
    }

    let timer = 0;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        offset = 0;
        const u = new URL(location.href);
        if (search.value.trim()) u.searchParams.set("q", search.value.trim()); else u.searchParams.delete("q");
        history.replaceState(null, "", u);
        load().catch(fail);
      }, 150);
    });
    prev.addEventListener("click", () => { offset = Math.max(0, offset - limit); load().catch(fail); });
    next.addEventListener("click", () => { offset += limit; load().catch(fail); });
    await load();
  }

  /* ------------------------------------------------------------------ the map */

  const BINS = [
    {max: 0.3, fill: "#f4b6a6", label: "below 30%"},
    {max: 0.5, fill: "#f9d8b5", label: "30–49%"},
    {max: 0.7, fill: "#efede4", label: "50–69%"},
    {max: 0.85, fill: "#bcdcf1", label: "70–84%"},
    {max: 1.01, fill: "#86bde6", label: "85% and above"},
  ];
  const fillFor = (p) => BINS.find((b) => p < b.max).fill;

  /** Depth (longest prerequisite chain) of every competency, and a deterministic layout:
   * one band per domain (in framework order), one column per depth; inside a cell, nodes are
   * ordered by the mean position of their prerequisites, then by name. */
  function layout(framework, width) {
    const comps = framework.competencies;
    const byId = new Map(comps.map((c) => [c.id, c]));
    const prereq = new Map(comps.map((c) => [c.id, []]));
    for (const e of framework.edges) prereq.get(e.to).push(e.from);
    const depth = new Map();
    const depthOf = (id) => {
      if (!depth.has(id)) depth.set(id, Math.max(-1, ...prereq.get(id).map(depthOf)) + 1);
      return depth.get(id);
    };
    comps.forEach((c) => depthOf(c.id));
    const domains = [...new Set(comps.map((c) => c.domain))];
    const maxDepth = Math.max(...depth.values());
    const cols = maxDepth + 1;
    const labelW = 0;
    const gapX = 26;
    const colW = Math.max(150, Math.floor((width - labelW) / cols));
    const nodeW = colW - gapX;
    const nodeH = 54;
    const gapY = 12;
    const bandHead = 26;
    const pos = new Map();
    const order = new Map();  // global vertical rank, for the barycentre
    let y = 0;
    const bands = [];
    for (const dom of domains) {
      const cells = Array.from({length: cols}, () => []);
      comps.filter((c) => c.domain === dom).forEach((c) => cells[depth.get(c.id)].push(c.id));
      const rows = Math.max(...cells.map((c) => c.length));
      const top = y;
      y += bandHead;
      cells.forEach((ids, d) => {
        const key = (id) => {
          const ps = prereq.get(id).filter((p) => order.has(p));
          return ps.length ? ps.reduce((s, p) => s + order.get(p), 0) / ps.length : Infinity;
        };
        ids.sort((a, b) => (key(a) - key(b)) || byId.get(a).name.localeCompare(byId.get(b).name));
        ids.forEach((id, i) => {
          pos.set(id, {x: labelW + d * colW + gapX / 2, y: y + i * (nodeH + gapY), w: nodeW, h: nodeH, depth: d});
          order.set(id, y + i);
        });
      });
      y += rows * (nodeH + gapY) + 8;
      bands.push({domain: dom, top, bottom: y});
      y += 6;
    }
    return {pos, bands, width: labelW + cols * colW, height: y, cols, colW, prereq, depth};
  }

  const measurer = document.createElement("canvas").getContext("2d");

  /** Split a name into at most two lines no wider than `width` px (ellipsis beyond). */
  function wrap(text, width, font) {
    measurer.font = font;
    const fits = (t) => measurer.measureText(t).width <= width;
    const words = text.split(/\s+/);
    const lines = [""];
    let i = 0;
    for (; i < words.length; i++) {
      const cur = lines[lines.length - 1];
      const next = cur ? `${cur} ${words[i]}` : words[i];
      if (fits(next) || !cur) lines[lines.length - 1] = next;
      else if (lines.length < 2) lines.push(words[i]);
      else break;
    }
    if (i < words.length) lines[1] += " " + words.slice(i).join(" ");
    return lines.map((l) => {
      if (fits(l)) return l;
      let cut = l;
      while (cut.length > 1 && !fits(cut + "…")) cut = cut.slice(0, -1);
      return cut.trimEnd() + "…";
    });
  }

  function drawMap(ctx) {
    const {framework, mastery, goals, pathwaySteps} = ctx;
    const holder = ctx.mapHolder;
    const width = Math.max(900, holder.clientWidth || 1100);
    const L = layout(framework, width);
    ctx.layout = L;
    const m = new Map(mastery.competencies.map((c) => [c.competency_id, c]));
    const stepOf = new Map();
    pathwaySteps.forEach((s, i) => { if (!stepOf.has(s.competency_id)) stepOf.set(s.competency_id, i + 1); });
    const goalSet = new Set(goals);
    const svgEl = sv("svg", {id: "map", width: L.width, height: L.height, viewBox: `0 0 ${L.width} ${L.height}`,
      role: "group", "aria-label": `Competency map: ${framework.competencies.length} competencies by domain and depth`});
    const bandsG = sv("g", {cls: "bands", "aria-hidden": "true"});
    L.bands.forEach((b, i) => {
      bandsG.append(sv("rect", {x: 0, y: b.top, width: L.width, height: b.bottom - b.top, rx: 8,
        cls: i % 2 ? "band odd" : "band"}));
      bandsG.append(sv("text", {x: 10, y: b.top + 18, cls: "band-label", text: `${human(b.domain)} domain`}));
    });
    for (let d = 0; d < L.cols; d++) {
      bandsG.append(sv("text", {x: d * L.colW + L.colW / 2, y: L.height - 2, cls: "depth-label",
        "text-anchor": "middle", text: d === 0 ? "depth 0 · foundations" : `depth ${d}`}));
    }
    const edgesG = sv("g", {cls: "edges", "aria-hidden": "true"});
    const byDomain = new Map(framework.competencies.map((c) => [c.id, c.domain]));
    const edgeEls = [];
    for (const e of framework.edges) {
      const a = L.pos.get(e.from), b = L.pos.get(e.to);
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
      const mx = (x1 + x2) / 2;
      const cross = byDomain.get(e.from) !== byDomain.get(e.to);
      const path = sv("path", {d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 4},${y2}`, cls: cross ? "edge cross" : "edge",
        "marker-end": "url(#arrow)"});
      path.dataset.from = e.from;
      path.dataset.to = e.to;
      edgeEls.push(path);
      edgesG.append(path);
    }
    const defs = sv("defs", {}, sv("marker", {id: "arrow", viewBox: "0 0 6 6", refX: 5, refY: 3, markerWidth: 6,
      markerHeight: 6, orient: "auto-start-reverse"}, sv("path", {d: "M0,0 L6,3 L0,6 z", cls: "arrowhead"})));
    const nodesG = sv("g", {cls: "nodes"});
    const nameFont = `600 11.5px ${getComputedStyle(document.body).fontFamily}`;
    for (const c of framework.competencies) {
      const p = L.pos.get(c.id);
      const mc = m.get(c.id) || {p_mastery: 0, n_evidence: 0, interval: [0, 1]};
      const [lo, hi] = mc.interval || [mc.p_mastery, mc.p_mastery];
      const isGoal = goalSet.has(c.id);
      const step = stepOf.get(c.id);
      const label = `${c.name}. Mastery ${pct(mc.p_mastery)}, 90% interval ${pct(lo)} to ${pct(hi)}, ` +
        `${mc.n_evidence} evidence record${mc.n_evidence === 1 ? "" : "s"}` +
        `${mc.mastered ? ", mastered" : ""}${isGoal ? ", goal" : ""}` +
        `${step ? `, pathway step ${step}` : ""}.`;
      const cls = ["node", isGoal && "goal", mc.n_evidence === 0 && "noevidence"].filter(Boolean).join(" ");
      const g = sv("g", {cls, tabindex: 0, role: "button", "aria-label": label,
        transform: `translate(${p.x},${p.y})`});
      g.dataset.id = c.id;
      const barX = 46, barW = p.w - 46 - 42, barY = p.h - 15;
      const nameLines = wrap(`${isGoal ? "★ " : ""}${c.name}`, p.w - 16, nameFont);
      g.append(
        sv("rect", {cls: "ring", x: -4, y: -4, width: p.w + 8, height: p.h + 8, rx: 9}),
        sv("rect", {cls: "box", width: p.w, height: p.h, rx: 6, fill: fillFor(mc.p_mastery)}),
        sv("text", {x: 8, y: 15, cls: "name"},
          ...nameLines.map((t, i) => sv("tspan", {x: 8, dy: i ? 13.5 : 0, text: t}))),
        sv("text", {x: 8, y: p.h - 7, cls: "pct", text: pct(mc.p_mastery)}),
        sv("rect", {cls: "track", x: barX, y: barY, width: barW, height: 6, rx: 3}),
        sv("rect", {cls: "range", x: barX + lo * barW, y: barY, width: Math.max(2, (hi - lo) * barW), height: 6, rx: 3}),
        sv("line", {cls: "threshold", x1: barX + mastery.mastery_threshold * barW, x2: barX + mastery.mastery_threshold * barW,
          y1: barY - 3, y2: barY + 9}),
        sv("rect", {cls: "point", x: barX + mc.p_mastery * barW - 1.5, y: barY - 3, width: 3, height: 12}),
        sv("text", {x: p.w - 7, y: p.h - 7, cls: "nev", "text-anchor": "end", text: `${mc.n_evidence} ev`}),
      );
      if (step) {
        g.append(sv("circle", {cls: "stepdot", cx: p.w - 2, cy: 0, r: 9}),
          sv("text", {cls: "steptext", x: p.w - 2, y: 4, "text-anchor": "middle", text: step}));
      }
      nodesG.append(g);
    }
    svgEl.append(defs, bandsG, edgesG, nodesG);
    holder.replaceChildren(svgEl);

    const related = (id) => edgeEls.filter((e) => e.dataset.from === id || e.dataset.to === id);
    let sticky = null;
    const show = (g) => {
      svgEl.classList.add("focusing");
      for (const e of related(g.dataset.id)) e.classList.add(e.dataset.to === g.dataset.id ? "in" : "out");
      fillTooltip(ctx, g.dataset.id);
      const r = g.getBoundingClientRect();
      tooltip.hidden = false;
      const tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
      let left = r.right + 10 + window.scrollX;
      if (r.right + 10 + tw > document.documentElement.clientWidth) left = r.left - tw - 10 + window.scrollX;
      let top = r.top + window.scrollY;
      if (r.top + th > window.innerHeight) top = Math.max(window.scrollY + 4, r.bottom - th + window.scrollY);
      tooltip.style.left = `${Math.max(4, left)}px`;
      tooltip.style.top = `${top}px`;
      g.setAttribute("aria-describedby", "tooltip");
    };
    const hide = (g) => {
      svgEl.classList.remove("focusing");
      for (const e of svgEl.querySelectorAll(".edge.in, .edge.out")) e.classList.remove("in", "out");
      tooltip.hidden = true;
      if (g) g.removeAttribute("aria-describedby");
    };
    for (const g of nodesG.children) {
      g.addEventListener("mouseenter", () => show(g));
      g.addEventListener("mouseleave", () => { if (sticky !== g) hide(g); else show(sticky); });
      g.addEventListener("focus", () => show(g));
      g.addEventListener("blur", () => { sticky = null; hide(g); });
      g.addEventListener("click", () => { sticky = sticky === g ? null : g; g.focus(); show(g); });
      g.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") { sticky = null; hide(g); }
        else if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); show(g); }
      });
    }
  }

  function levelOf(levels, scoreNorm) {
    const names = Object.keys(levels || {});
    if (!names.length) return null;
    const i = Math.min(names.length - 1, Math.max(0, Math.round(scoreNorm * (names.length - 1))));
    return {index: i, names};
  }

  function fillTooltip(ctx, id) {
    const c = ctx.framework.competencies.find((x) => x.id === id);
    const mc = ctx.mastery.competencies.find((x) => x.competency_id === id) || {p_mastery: 0, n_evidence: 0};
    const ev = ctx.evidenceBy.get(id) || [];
    const [lo, hi] = mc.interval || [mc.p_mastery, mc.p_mastery];
    const parts = [
      el("p", {cls: "tt-title"}, el("strong", {text: c.name})),
      el("p", {cls: "tt-sub", text: `${c.id} · ${human(c.domain)} · depth ${ctx.layout.depth.get(id)}`}),
      el("p", {}, `Mastery ${pct(mc.p_mastery)} `, el("span", {cls: "muted", text: `(90% interval ${pct(lo)}–${pct(hi)})`}),
        mc.mastered ? el("strong", {text: " · mastered"})
          : mc.p_mastery >= ctx.mastery.mastery_threshold ? " · not yet called mastered (too little evidence to be sure)"
          : " · not yet mastered"),
    ];
    const names = Object.keys(c.levels || {});
    if (ev.length) {
      const prof = ev.filter((e) => e.proficient).length;
      const lv = levelOf(c.levels, ev[0].score_norm);
      parts.push(el("p", {text: `Evidence: ${ev.length} record${ev.length === 1 ? "" : "s"}, ${prof} proficient; last ${fmtDate(ev[0].observed_at)}`}));
      parts.push(el("p", {cls: "tt-level"}, el("strong", {text: `Latest level: ${lv.names[lv.index]}. `}), c.levels[lv.names[lv.index]]));
      if (lv.index + 1 < names.length) {
        parts.push(el("p", {cls: "tt-level"}, el("strong", {text: `Next: ${names[lv.index + 1]}. `}), c.levels[names[lv.index + 1]]));
      }
      parts.push(el("ul", {cls: "tt-evidence"}, ev.slice(0, 4).map((e) => el("li", {},
        `${fmtDate(e.observed_at)} · ${human(e.source)} · ${e.score}/${e.scale_max}${e.proficient ? " ✓" : ""}` +
        `${e.rater_id ? ` · rater ${e.rater_id}` : ""}`))));
      if (ev.length > 4) parts.push(el("p", {cls: "muted", text: `and ${ev.length - 4} earlier`}));
    } else {
      parts.push(el("p", {text: "No evidence yet: estimated from its prerequisites."}));
      const target = names.includes("proficient") ? "proficient" : names[names.length - 1];
      if (target) parts.push(el("p", {cls: "tt-level"}, el("strong", {text: `Proficient looks like: `}), c.levels[target]));
    }
    tooltip.replaceChildren(...parts);
  }

  function legend(threshold) {
    const swatches = BINS.map((b) => el("li", {},
      el("span", {cls: "swatch", "data-fill": b.fill, "aria-hidden": "true"}), b.label));
    const box = el("div", {cls: "legend", role: "note", "aria-label": "Map legend"},
      el("ul", {cls: "legend-colors"}, el("li", {cls: "legend-h", text: "P(mastery):"}), swatches),
      el("ul", {cls: "legend-marks"},
        el("li", {}, el("span", {cls: "mk mk-bar", "aria-hidden": "true"}),
          `bar: 90% interval (uncertainty), dark tick: estimate, thin line: mastery threshold ${pct(threshold)}`),
        el("li", {}, el("span", {cls: "mk mk-dash", "aria-hidden": "true"}), "dashed outline: no evidence yet"),
        el("li", {}, el("span", {cls: "mk mk-goal", "aria-hidden": "true"}), "★ thick outline: goal"),
        el("li", {}, el("span", {cls: "mk mk-step", "aria-hidden": "true", text: "1"}), "pathway step"),
        el("li", {text: "arrows: prerequisite → dependent; “ev”: evidence records"})));
    for (const s of box.querySelectorAll("[data-fill]")) s.style.background = s.dataset.fill;
    return box;
  }

  /* ------------------------------------------------------------------ next steps */

  const DECLINE_REASONS = ["Not relevant to the educator's goals", "Not ready for it yet",
    "Already done elsewhere", "Too long for now", "Format does not suit the educator", "Other"];

  function explanationBlock(item, ctx) {
    const x = item.explanation || {};
    const name = (id) => (ctx.compById.get(id) || {name: id}).name;
    const rows = (x.targets || []).map((t) => el("tr", {},
      el("td", {text: t.name}), el("td", {text: pct(t.p_mastery)}), el("td", {text: t.weight.toFixed(2)}),
      el("td", {text: `+${t.gain.toFixed(2)}`})));
    const parts = [
      el("table", {cls: "mini"},
        el("caption", {text: "What it develops"}),
        el("thead", {}, el("tr", {}, ["Competency", "Mastery now", "Weight", "Expected gain"].map((t) => el("th", {scope: "col", text: t})))),
        el("tbody", {}, rows)),
    ];
    // per target: the educator's own records the estimate rests on, and why, in words
    const cited = (x.targets || []).filter((t) => (t.evidence || []).length || (t.contributions || []).length);
    if (cited.length) {
      parts.push(el("div", {cls: "evidence-cited"}, el("h4", {text: "What the estimates rest on"}),
        cited.map((t) => el("section", {cls: "cited-target", "aria-label": `Evidence for ${t.name}`},
          el("p", {cls: "cited-name"}, el("strong", {text: t.name}), ` (${pct(t.p_mastery)})`),
          (t.contributions || []).length ? el("ul", {cls: "contributions"},
            t.contributions.map((c) => el("li", {text: c.text}))) : null,
          (t.evidence || []).length ? el("ul", {cls: "cited", "aria-label": `Records cited for ${t.name}`},
            t.evidence.map((e) => el("li", {cls: "cited-record", "data-evidence": e.evidence_id},
              `${fmtDate(e.observed_at)} · ${human(e.source)} · ${e.score} of ${e.scale_min}–${e.scale_max}` +
              `${e.rater_id ? ` · rater ${e.rater_id}` : ""}`))) : el("p", {cls: "muted", text: "No records of this educator on it yet."})))));
    }
    const dl = el("dl", {cls: "facts"});
    const add = (k, v) => dl.append(el("dt", {text: k}), el("dd", {}, v));
    add("Ready because", (x.ready_because || []).length
      ? x.ready_because.map((r) => `${r.name} (${pct(r.p_mastery)})`).join("; ") : "no prerequisites needed");
    if ((x.prerequisite_gaps || []).length) {
      add("Prerequisite gaps", x.prerequisite_gaps.map((r) => (typeof r === "string" ? name(r)
        : `${r.name || name(r.competency_id)} (${pct(r.p_mastery)})`)).join("; "));
    }
    add("Serves goal", x.goal ? name(x.goal) : "none of the goals directly");
    add("Expected gain", x.expected_gain !== undefined ? `+${Number(x.expected_gain).toFixed(2)}` : "n/a");
    const nCited = (x.evidence_ids || []).length;
    add("Evidence used", `${nCited} record${nCited === 1 ? "" : "s"}`);
    if (x.score_parts) {
      add("Score parts", Object.entries(x.score_parts).map(([k, v]) => `${human(k)} ${Number(v).toFixed(2)}`).join(", "));
    }
    add("Model", x.model_version ? `version ${x.model_version}` : `${ctx.recs.model.name}${ctx.recs.model.fallback ? " (no trained model loaded)" : ""}`);
    parts.push(dl);
    return parts;
  }

  async function record(ctx, events, message) {
    try {
      await api("/v1/feedback", {events: events.map((e) => ({educator_id: ctx.educatorId, by: ctx.by, ...e}))});
      say(message, "ok");
      await refreshDecisions(ctx);
    } catch (err) {
      if (err.status !== 401) say(`Not saved: ${err.message}`, "error");
    }
  }

  function stepCard(item, ctx, index) {
    const id = `step-${index}`;
    const panel = el("div", {cls: "panel", id: `${id}-panel`, hidden: true});
    const replacedFrom = ctx.replacedFrom.get(item.activity_id);
    const targets = (item.explanation && item.explanation.targets) || [];
    const buttons = [];
    const openPanel = (btn, build) => {
      const open = btn.getAttribute("aria-expanded") === "true";
      for (const b of buttons) if (b.hasAttribute("aria-expanded")) b.setAttribute("aria-expanded", "false");
      if (open) { panel.hidden = true; return; }
      btn.setAttribute("aria-expanded", "true");
      panel.replaceChildren(...build());
      panel.hidden = false;
      const first = panel.querySelector("input, select, textarea, button");
      if (first) first.focus();
    };
    const title = item.title;
    const accept = el("button", {cls: "btn primary", type: "button", text: "Accept",
      "aria-label": `Accept ${title}`,
      onclick: () => record(ctx, [{activity_id: item.activity_id, event: "accepted"}],
        `Accepted “${title}”: it is now in progress.`)});
    const decline = el("button", {cls: "btn", type: "button", text: "Decline…", "aria-expanded": "false",
      "aria-controls": panel.id, "aria-label": `Decline ${title}`,
      onclick: () => openPanel(decline, () => {
        const sel = el("select", {id: `${id}-reason`}, DECLINE_REASONS.map((r) => el("option", {text: r})));
        const more = el("input", {id: `${id}-more`, type: "text", maxlength: 500, autocomplete: "off"});
        return [el("form", {cls: "inline", onsubmit: (ev) => {
          ev.preventDefault();
          const note = more.value.trim() ? `${sel.value}: ${more.value.trim()}` : sel.value;
          record(ctx, [{activity_id: item.activity_id, event: "declined", note}],
            `Declined “${title}” (${note}). It will not be proposed again.`);
        }},
        el("label", {for: sel.id, text: "Reason"}), sel,
        el("label", {for: more.id, text: "Details (optional)"}), more,
        el("button", {cls: "btn danger", type: "submit", text: "Decline"}),
        el("button", {cls: "btn", type: "button", text: "Cancel", onclick: () => openPanel(decline, () => [])}))];
      })});
    const replace = el("button", {cls: "btn", type: "button", text: "Replace…", "aria-expanded": "false",
      "aria-controls": panel.id, "aria-label": `Replace ${title} with another activity`,
      onclick: () => openPanel(replace, () => replacePanel(ctx, item, id))});
    const pinned = item.pinned;
    const pin = el("button", {cls: "btn", type: "button", text: pinned ? "Unpin" : "Pin",
      "aria-pressed": pinned ? "true" : "false", "aria-label": `${pinned ? "Unpin" : "Pin"} ${title}`,
      onclick: () => record(ctx, [{activity_id: item.activity_id, event: pinned ? "unpinned" : "pinned"}],
        pinned ? `Unpinned “${title}”.` : `Pinned “${title}”: it now comes first.`)});
    const note = el("button", {cls: "btn", type: "button", text: "Note…", "aria-expanded": "false",
      "aria-controls": panel.id, "aria-label": `Add a note about ${title}`,
      onclick: () => openPanel(note, () => {
        const ta = el("textarea", {id: `${id}-note`, rows: 2, maxlength: 2000});
        return [el("form", {cls: "inline", onsubmit: (ev) => {
          ev.preventDefault();
          if (!ta.value.trim()) { ta.focus(); say("Write the note first.", "error"); return; }
          record(ctx, [{activity_id: item.activity_id, event: "noted", note: ta.value.trim()}],
            `Note saved on “${title}”.`);
        }}, el("label", {for: ta.id, text: "Note about this activity"}), ta,
        el("button", {cls: "btn primary", type: "submit", text: "Save note"}))];
      })});
    const why = el("button", {cls: "btn link", type: "button", text: "Why?", "aria-expanded": "false",
      "aria-controls": panel.id, "aria-label": `Why ${title}? Show the explanation`,
      onclick: () => openPanel(why, () => explanationBlock(item, ctx))});
    buttons.push(accept, decline, replace, pin, note, why);
    const notes = ctx.notes.get(item.activity_id) || [];
    const li = el("li", {cls: `step${pinned ? " pinned" : ""}`, "data-activity": item.activity_id},
      el("div", {cls: "step-head"},
        el("span", {cls: "rank", "aria-hidden": "true", text: item.rank}),
        el("h3", {}, el("span", {cls: "sr-only", text: `Step ${item.rank}: `}), title),
        pinned ? el("span", {cls: "badge", text: replacedFrom ? "Chosen by coach" : "Pinned"}) : null),
      el("p", {cls: "meta", text: `${human(item.format)} · ${hours(item.hours)}` +
        (targets.length ? ` · develops ${targets.map((t) => t.name).join(", ")}` : "")}),
      el("p", {cls: "reason", text: item.reason}),
      replacedFrom ? el("p", {cls: "replaced", text: `Replaces “${ctx.titles[replacedFrom] || replacedFrom}”.`}) : null,
      notes.length ? el("p", {cls: "note", text: `Note: ${notes[0]}`}) : null,
      el("div", {cls: "actions", role: "group", "aria-label": `Actions for ${title}`}, buttons),
      panel);
    li.addEventListener("mouseenter", () => highlight(ctx, targets.map((t) => t.competency_id)));
    li.addEventListener("mouseleave", () => highlight(ctx, []));
    li.addEventListener("focusin", () => highlight(ctx, targets.map((t) => t.competency_id)));
    return li;
  }

  function highlight(ctx, ids) {
    const set = new Set(ids);
    for (const g of ctx.mapHolder.querySelectorAll("g.node")) g.classList.toggle("hl", set.has(g.dataset.id));
  }

  async function catalog(ctx) {
    if (!ctx.catalog) ctx.catalog = (await api("/v1/activities")).activities;
    return ctx.catalog;
  }

  function replacePanel(ctx, item, id) {
    const input = el("input", {id: `${id}-search`, type: "search", autocomplete: "off",
      placeholder: "title, format or competency"});
    const list = el("ul", {cls: "results", "aria-live": "polite"});
    const targets = new Set(((item.explanation && item.explanation.targets) || []).map((t) => t.competency_id));
    // not offered: what is already proposed, and what the ranker must skip (a completed or
    // in-progress activity can never be pinned, so choosing it would silently do nothing)
    const shown = new Set([...ctx.recs.items.map((r) => r.activity_id),
      ...ctx.feedback.state.completed, ...ctx.feedback.state.in_progress]);
    const render = async () => {
      const acts = await catalog(ctx);
      const q = input.value.trim().toLowerCase();
      const scored = acts.filter((a) => !shown.has(a.activity_id)).map((a) => {
        const comps = Object.keys(a.competencies);
        const overlap = comps.filter((c) => targets.has(c)).length;
        const hay = `${a.title} ${a.format} ${a.activity_id} ${comps.map((c) => (ctx.compById.get(c) || {name: c}).name).join(" ")}`.toLowerCase();
        return {a, overlap, hit: !q || q.split(/\s+/).every((w) => hay.includes(w))};
      }).filter((s) => s.hit).sort((x, y) => (y.overlap - x.overlap) || x.a.hours - y.a.hours || x.a.title.localeCompare(y.a.title));
      list.replaceChildren(...scored.slice(0, 8).map(({a, overlap}) => el("li", {},
        el("div", {}, el("strong", {text: a.title}),
          el("span", {cls: "muted", text: ` · ${human(a.format)} · ${hours(a.hours)}` +
            ` · ${Object.keys(a.competencies).map((c) => (ctx.compById.get(c) || {name: c}).name).join(", ")}` +
            (overlap ? " · same competency" : "")})),
        el("button", {cls: "btn primary", type: "button", text: "Use instead",
          "aria-label": `Use ${a.title} instead of ${item.title}`,
          onclick: () => record(ctx, [{activity_id: a.activity_id, event: "replaced", replaces: item.activity_id}],
            `Replaced “${item.title}” with “${a.title}”.`)}))));
      if (!scored.length) list.replaceChildren(el("li", {cls: "muted", text: "No activity matches."}));
      list.dataset.query = q;
    };
    let timer = 0;
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => render().catch(fail), 120); });
    render().catch(fail);
    return [el("label", {for: input.id, text: "Search the catalog"}), input, list];
  }

  /* ------------------------------------------------------------------ pathway and decisions */

  function pathwayBody(ctx) {
    const pw = ctx.pathway;
    if (!pw) return [el("p", {cls: "muted", text: ctx.pathwayError || "Choose a goal."})];
    const steps = pw.steps.map((s) => el("li", {},
      el("div", {}, el("strong", {text: s.name}),
        el("span", {cls: "muted", text: ` ${pct(s.p_before)} → ${pct(s.p_after)}`})),
      el("div", {cls: "pw-act"}, `${s.activity_title} · `, el("strong", {text: hours(s.hours)}))));
    const total = el("p", {cls: "total"}, `${pw.steps.length} step${pw.steps.length === 1 ? "" : "s"}, `,
      el("strong", {text: `${hours(pw.total_hours)} in total`}));
    const out = [total, pw.steps.length ? el("ol", {cls: "pathway"}, steps)
      : el("p", {text: "Already mastered: nothing left to plan."})];
    if (pw.unreachable && pw.unreachable.length) {
      out.push(el("p", {cls: "muted", text: `No activity in the catalog develops: ${pw.unreachable.map((c) => (ctx.compById.get(c) || {name: c}).name).join(", ")}`}));
    }
    return out;
  }

  async function loadPathway(ctx, goal) {
    ctx.pathwayGoal = goal;
    const q = goal ? `?goal=${enc(goal)}` : "";
    try {
      ctx.pathway = await api(`/v1/educators/${enc(ctx.educatorId)}/pathway${q}`);
      ctx.pathwayError = null;
    } catch (err) {
      if (err.status === 401) throw err;
      ctx.pathway = null;
      ctx.pathwayError = err.status === 422 ? "No goal set for this educator: choose one above." : err.message;
    }
  }

  function decisionsBody(ctx) {
    const fb = ctx.feedback;
    const t = (a) => fb.titles[a] || a;
    const whyDeclined = (a) => {  // events are newest first
      const e = fb.events.find((x) => (x.event === "declined" && x.activity_id === a)
        || (x.event === "replaced" && x.replaces === a));
      if (!e) return "";
      return e.event === "replaced" ? ` (replaced by ${t(e.activity_id)})` : (e.note ? ` (${e.note})` : "");
    };
    const list = (ids, fmt) => (ids.length ? el("ul", {cls: "plain"}, ids.map((a) => el("li", {}, fmt(a))))
      : el("p", {cls: "muted", text: "none"}));
    const out = [
      el("h3", {text: "In progress (accepted)"}), list(fb.state.in_progress, (a) => t(a)),
      el("h3", {text: "Pinned by coach"}), list(fb.state.pinned, (a) => t(a)),
      el("h3", {text: "Declined"}), list(fb.state.declined, (a) => `${t(a)}${whyDeclined(a)}`),
    ];
    const recent = fb.events.slice(0, 8);
    out.push(el("h3", {text: "Recent decisions"}), recent.length
      ? el("ul", {cls: "plain history"}, recent.map((e) => el("li", {},
        el("span", {cls: "muted", text: `${fmtDate(e.at)} · `}), el("strong", {text: human(e.event)}), ` ${t(e.activity_id)}`,
        e.replaces ? ` (instead of ${t(e.replaces)})` : "", e.note ? ` — “${e.note}”` : "")))
      : el("p", {cls: "muted", text: "No decision recorded yet."}));
    return out;
  }

  function indexFeedback(ctx) {
    ctx.replacedFrom = new Map();
    ctx.notes = new Map();
    ctx.titles = ctx.feedback.titles;
    for (const e of ctx.feedback.events) {  // newest first
      if (e.event === "replaced" && e.replaces && !ctx.replacedFrom.has(e.activity_id)) ctx.replacedFrom.set(e.activity_id, e.replaces);
      if (e.note && e.event === "noted") {
        if (!ctx.notes.has(e.activity_id)) ctx.notes.set(e.activity_id, []);
        ctx.notes.get(e.activity_id).push(e.note);
      }
    }
  }

  function renderSteps(ctx) {
    const items = ctx.recs.items;
    ctx.stepsList.replaceChildren(...(items.length ? items.map((it, i) => stepCard(it, ctx, i))
      : [el("li", {cls: "muted", text: "Nothing left to propose with the current filters."})]));
    ctx.stepsCount.textContent = `${items.length} activities, ${hours(items.reduce((s, it) => s + it.hours, 0))} in all`;
    ctx.decisions.replaceChildren(...decisionsBody(ctx));
    ctx.pathwayBox.replaceChildren(...pathwayBody(ctx));
  }

  async function refreshDecisions(ctx) {
    const base = `/v1/educators/${enc(ctx.educatorId)}`;
    const [recs, feedback] = await Promise.all([
      api(`${base}/recommendations?k=${K_STEPS}&explain=true`), api(`${base}/feedback`),
      loadPathway(ctx, ctx.pathwayGoal)]);
    Object.assign(ctx, {recs, feedback});
    indexFeedback(ctx);
    renderSteps(ctx);
    drawMap(ctx);
    ctx.stepsHeading.focus();
  }

  /* ------------------------------------------------------------------ educator view */

  function goalScope(framework, goals) {
    const prereq = new Map(framework.competencies.map((c) => [c.id, []]));
    for (const e of framework.edges) prereq.get(e.to).push(e.from);
    const seen = new Set();
    const walk = (id) => { if (seen.has(id)) return; seen.add(id); prereq.get(id).forEach(walk); };
    goals.forEach(walk);
    return seen;
  }

  async function educatorView(educatorId) {
    document.title = `${educatorId} · pdrec coach`;
    const base = `/v1/educators/${enc(educatorId)}`;
    const ctx = {educatorId, by: (document.body.dataset.coach || "coach").slice(0, 128)};
    const [framework, educator, mastery, evidence, recs, feedback] = await Promise.all([
      api("/v1/framework"), api(base), api(`${base}/mastery`), api(`${base}/evidence?limit=2000`),
      api(`${base}/recommendations?k=${K_STEPS}&explain=true`), api(`${base}/feedback`),
      loadPathway(ctx, null)]);
    Object.assign(ctx, {framework, educator, mastery, recs, feedback});
    ctx.compById = new Map(framework.competencies.map((c) => [c.id, c]));
    ctx.goals = educator.goals;
    ctx.evidenceBy = new Map();
    for (const e of evidence.items) {
      if (!ctx.evidenceBy.has(e.competency_id)) ctx.evidenceBy.set(e.competency_id, []);
      ctx.evidenceBy.get(e.competency_id).push(e);
    }
    indexFeedback(ctx);
    Object.defineProperty(ctx, "pathwaySteps", {get: () => (ctx.pathway ? ctx.pathway.steps : [])});

    const threshold = mastery.mastery_threshold;
    const mById = new Map(mastery.competencies.map((c) => [c.competency_id, c]));
    const scope = educator.goals.length ? goalScope(framework, educator.goals) : new Set(framework.competencies.map((c) => c.id));
    const nMastered = [...scope].filter((c) => (mById.get(c) || {mastered: false}).mastered).length;
    const last = evidence.items[0];

    const goalSelect = el("select", {id: "goal"},
      educator.goals.length ? el("option", {value: "", text: "All of the educator's goals"}) : el("option", {value: "", text: "Choose a goal…"}),
      el("optgroup", {label: "Goals"}, educator.goals.map((g) => el("option", {value: g, text: (ctx.compById.get(g) || {name: g}).name}))),
      el("optgroup", {label: "Other competencies"}, framework.competencies.filter((c) => !educator.goals.includes(c.id))
        .slice().sort((a, b) => a.name.localeCompare(b.name)).map((c) => el("option", {value: c.id, text: c.name}))));
    ctx.pathwayBox = el("div", {id: "pathway-body"});
    goalSelect.addEventListener("change", async () => {
      await loadPathway(ctx, goalSelect.value || null);
      ctx.pathwayBox.replaceChildren(...pathwayBody(ctx));
      drawMap(ctx);
      say(ctx.pathway ? `Pathway updated: ${ctx.pathway.steps.length} steps, ${hours(ctx.pathway.total_hours)}.` : "No pathway.", "info");
    });
    ctx.stepsList = el("ol", {cls: "steps", id: "steps"});
    ctx.stepsCount = el("p", {cls: "muted"});
    ctx.stepsHeading = el("h2", {id: "steps-h", tabindex: "-1", text: "Next steps"});
    ctx.decisions = el("div", {id: "decisions-body"});
    ctx.mapHolder = el("div", {cls: "map-wrap", id: "map-holder"});
    const model = recs.model;
    main.replaceChildren(
      el("nav", {cls: "crumbs", "aria-label": "Breadcrumb"}, el("a", {href: "/coach", text: "← All educators"})),
      el("header", {cls: "ed-head"},
        el("div", {},
          el("h1", {text: educatorId}),
          el("p", {cls: "muted", text: profileText(educator.profile)})),
        el("dl", {cls: "summary"},
          el("div", {}, el("dt", {text: "Goals"}), el("dd", {}, educator.goals.length
            ? el("ul", {cls: "chips"}, educator.goals.map((g) => {
              const mg = mById.get(g) || {p_mastery: 0, mastered: false};
              return el("li", {cls: mg.mastered ? "chip ok" : "chip"}, `★ ${(ctx.compById.get(g) || {name: g}).name} (${pct(mg.p_mastery)})`);
            })) : "none set")),
          el("div", {}, el("dt", {text: educator.goals.length ? "Progress toward goals" : "Progress"}),
            el("dd", {}, progressBar(nMastered, scope.size, `${nMastered} of ${scope.size} mastered${educator.goals.length ? " (goals and their prerequisites)" : ""}`))),
          el("div", {}, el("dt", {text: "Evidence"}), el("dd", {text: last
            ? `${evidence.count} records, last ${fmtDate(last.observed_at)} (${ago(last.observed_at)})` : "none yet"})),
          el("div", {}, el("dt", {text: "Estimated by"}), el("dd", {text: model.fallback
            ? "graph rule (no trained model loaded)" : `${model.name} model, version ${model.version}`})))),
      el("section", {cls: "card", "aria-labelledby": "map-h"},
        el("div", {cls: "section-head"}, el("h2", {id: "map-h", text: "Competency map"}),
          el("a", {cls: "skip-inline", href: "#steps-h", text: "Skip the map"})),
        el("p", {cls: "muted hint", text: "Columns: depth in the prerequisite graph (foundations left). Rows: domains. " +
          "Hover a competency, or Tab to it, for its level descriptors and the evidence behind it."}),
        legend(threshold), ctx.mapHolder),
      el("div", {cls: "columns"},
        el("section", {cls: "card steps-card", "aria-labelledby": "steps-h"},
          el("div", {cls: "section-head"}, ctx.stepsHeading, ctx.stepsCount), ctx.stepsList),
        el("div", {cls: "side"},
          el("section", {cls: "card", "aria-labelledby": "pathway-h"},
            el("h2", {id: "pathway-h", text: "Pathway"}),
            el("label", {for: "goal", text: "Goal"}), goalSelect, ctx.pathwayBox),
          el("section", {cls: "card", "aria-labelledby": "decisions-h"},
            el("h2", {id: "decisions-h", text: "Coach decisions"}), ctx.decisions),
          // renewal progress and plan (coach_renewal.js), when the tenant has renewal rules
          document.body.dataset.renewal ? window.pdrecRenewal.panel(educatorId,
            document.body.dataset.renewal, (id) => (ctx.compById.get(id) || {name: id}).name) : null)));
    sizeBars(main);
    renderSteps(ctx);
    drawMap(ctx);
    let resizeTimer = 0;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => drawMap(ctx), 150); });
    markReady();
  }

  /* ------------------------------------------------------------------ start */

  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") tooltip.hidden = true; });
  const educatorId = document.body.dataset.educator;
  (educatorId ? educatorView(educatorId) : listView()).catch(fail);
})();
