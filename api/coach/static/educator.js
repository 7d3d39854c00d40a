/* The educator's own page (/coach/me): what pdrec holds about them and what it proposes.
 *
 * Plain JavaScript, no build step, no third-party code; the generic helpers come from common.js
 * (window.pdrecUI) and the renewal panel from coach_renewal.js (window.pdrecRenewal). Everything
 * is read through the /v1 API with the session cookie of an educator key, which reaches this
 * educator only. Sections: the competency map (mastery per competency, by domain), the next
 * steps with their reasons, licence-renewal progress, every evidence record held and whether it
 * is used, and the consent form (PUT /v1/educators/{id}/consent) that withdraws or restores a
 * source; a saved change reloads the map, steps and evidence, which it changes at once.
 * When the view is drawn, <body data-ready="true"> is set (the browser tests wait for it).
 */
"use strict";

(() => {
  const {el, pct, hours, human, fmtDate, ago, enc, say, api, markReady, fail,
    progressBar, sizeBars, profileText} = window.pdrecUI;
  const main = document.getElementById("main");
  const educatorId = document.body.dataset.educator;
  const base = `/v1/educators/${enc(educatorId)}`;
  const K_STEPS = 8;
  const WHY_NOT = {
    policy: "Not used: your district's evidence policy keeps this source out of recommendations",
    consent: "Not used: you withdrew consent for this source",
  };

  /* ------------------------------------------------------------------ sections */

  function mapBody(ctx) {
    const m = new Map(ctx.mastery.competencies.map((c) => [c.competency_id, c]));
    const goals = new Set(ctx.educator.goals);
    const domains = [...new Set(ctx.framework.competencies.map((c) => c.domain))];
    return domains.map((dom) => el("section", {cls: "domain", "aria-label": `${human(dom)} domain`},
      el("h3", {text: `${human(dom)} domain`}),
      el("ul", {cls: "plain comps"}, ctx.framework.competencies.filter((c) => c.domain === dom).map((c) => {
        const mc = m.get(c.id) || {p_mastery: 0, n_evidence: 0, mastered: false};
        const label = `${goals.has(c.id) ? "★ " : ""}${c.name}: ${pct(mc.p_mastery)}` +
          `${mc.mastered ? " · mastered" : ""} · ${mc.n_evidence} record${mc.n_evidence === 1 ? "" : "s"}`;
        return el("li", {cls: `comp${mc.mastered ? " mastered" : ""}${goals.has(c.id) ? " goal" : ""}`,
          "data-competency": c.id}, progressBar(mc.p_mastery, 1, label));
      }))));
  }

  function stepItem(item, ctx) {
    const x = item.explanation || {};
    const name = (id) => (ctx.compById.get(id) || {name: id}).name;
    const targets = x.targets || [];
    const facts = el("dl", {cls: "facts"});
    const add = (k, v) => facts.append(el("dt", {text: k}), el("dd", {text: v}));
    add("Develops", targets.length ? targets.map((t) => `${t.name} (now ${pct(t.p_mastery)})`).join("; ") : "n/a");
    add("Ready because", (x.ready_because || []).length
      ? x.ready_because.map((r) => `${r.name} (${pct(r.p_mastery)})`).join("; ") : "no prerequisites needed");
    add("Serves goal", x.goal ? name(x.goal) : "none of your goals directly");
    const nCited = (x.evidence_ids || []).length;
    add("Evidence it rests on", `${nCited} of your record${nCited === 1 ? "" : "s"}`);
    return el("li", {cls: "step", "data-activity": item.activity_id},
      el("div", {cls: "step-head"},
        el("span", {cls: "rank", "aria-hidden": "true", text: item.rank}),
        el("h3", {}, el("span", {cls: "sr-only", text: `Step ${item.rank}: `}), item.title)),
      el("p", {cls: "meta", text: `${human(item.format)} · ${hours(item.hours)}`}),
      el("p", {cls: "reason", text: item.reason}),
      el("details", {}, el("summary", {text: "Why this?"}), facts));
  }

  function stepsBody(ctx) {
    const items = ctx.recs.items;
    return items.length ? items.map((it) => stepItem(it, ctx))
      : [el("li", {cls: "muted", text: "Nothing to propose right now."})];
  }

  function evidenceBody(ctx) {
    const ev = ctx.evidence;
    const name = (id) => (ctx.compById.get(id) || {name: id}).name;
    const rows = ev.items.map((e) => {
      const used = e.used !== false;  // records without the flag predate the firewall: used
      return el("tr", {cls: used ? "used" : "unused", "data-evidence": e.evidence_id, "data-source": e.source},
        el("td", {text: fmtDate(e.observed_at)}), el("td", {text: name(e.competency_id)}),
        el("td", {text: human(e.source)}), el("td", {text: `${e.score} of ${e.scale_min}–${e.scale_max}`}),
        el("td", {cls: "use", text: used ? "Used" : (WHY_NOT[e.excluded_by] || `Not used (${e.excluded_by})`)}));
    });
    const out = [el("p", {cls: "muted", text: `${ev.count} record${ev.count === 1 ? "" : "s"} held` +
      (ev.hidden ? `; ${ev.hidden} more of sources your district does not show to educators` : "") +
      (ev.evidence_policy ? ` · evidence policy ${ev.evidence_policy}` : "")})];
    out.push(rows.length ? el("table", {cls: "roster evidence", id: "evidence-table"},
      el("caption", {cls: "sr-only", text: "Evidence held about you, newest first, and whether it is used"}),
      el("thead", {}, el("tr", {}, ["Date", "Competency", "Source", "Score", "Used for recommendations"]
        .map((t) => el("th", {scope: "col", text: t})))),
      el("tbody", {}, rows)) : el("p", {text: "No evidence about you is held."}));
    return out;
  }

  function consentBody(ctx, reload) {
    const c = ctx.consent;
    const boxes = c.sources.map((s) => {
      const id = `consent-${s.source}`;
      return el("li", {"data-source": s.source},
        el("input", {type: "checkbox", id, name: s.source, checked: !s.withdrawn}),
        el("label", {for: id, text: `Use my ${human(s.source)} evidence`}),
        s.changed_at ? el("span", {cls: "muted", text: ` · ${s.withdrawn ? "withdrawn" : "restored"} ${fmtDate(s.changed_at)} (${ago(s.changed_at)})`}) : null);
    });
    const form = el("form", {id: "consent-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const withdrawn = c.sources.map((s) => s.source).filter((src) => !form.elements[src].checked);
      try {
        const saved = await api(`${base}/consent`, {withdrawn}, "PUT");
        say(saved.changed.length ? `Saved: ${saved.changed.map(human).join(", ")} changed. Your recommendations now follow it.`
          : "Nothing changed.", "ok");
        await reload();
      } catch (err) {
        if (err.status !== 401) say(`Not saved: ${err.message}`, "error");
      }
    }},
    el("fieldset", {}, el("legend", {text: "Evidence sources that may feed your recommendations"}),
      el("ul", {cls: "plain consent"}, boxes)),
    el("button", {cls: "btn primary", type: "submit", text: "Save consent"}));
    return [el("p", {cls: "muted", text: "A source you withdraw stays on record but stops feeding your mastery " +
      `estimates and recommendations at once (policy version ${c.policy_version}).`}), form];
  }

  /* ------------------------------------------------------------------ the view */

  async function load(ctx) {
    const [mastery, evidence, recs, consent] = await Promise.all([
      api(`${base}/mastery`), api(`${base}/evidence?limit=2000`),
      api(`${base}/recommendations?k=${K_STEPS}&explain=true`), api(`${base}/consent`)]);
    Object.assign(ctx, {mastery, evidence, recs, consent});
  }

  function draw(ctx, reload) {
    ctx.boxes.map.replaceChildren(...mapBody(ctx));
    ctx.boxes.steps.replaceChildren(...stepsBody(ctx));
    ctx.boxes.evidence.replaceChildren(...evidenceBody(ctx));
    ctx.boxes.consent.replaceChildren(...consentBody(ctx, reload));
    const mById = new Map(ctx.mastery.competencies.map((c) => [c.competency_id, c]));
    const n = ctx.mastery.competencies.filter((c) => c.mastered).length;
    ctx.boxes.summary.replaceChildren(
      el("div", {}, el("dt", {text: "Goals"}), el("dd", {}, ctx.educator.goals.length
        ? el("ul", {cls: "chips"}, ctx.educator.goals.map((g) => {
          const mg = mById.get(g) || {p_mastery: 0, mastered: false};
          return el("li", {cls: mg.mastered ? "chip ok" : "chip"}, `★ ${(ctx.compById.get(g) || {name: g}).name} (${pct(mg.p_mastery)})`);
        })) : "none set")),
      el("div", {}, el("dt", {text: "Mastered"}), el("dd", {}, progressBar(n, ctx.mastery.competencies.length,
        `${n} of ${ctx.mastery.competencies.length} competencies`))));
    sizeBars(main);
  }

  function card(id, title, body, ...extra) {
    return el("section", {cls: "card", id, "aria-labelledby": `${id}-h`},
      el("h2", {id: `${id}-h`, text: title}), ...extra, body);
  }

  async function view() {
    document.title = "My professional learning · pdrec";
    const [framework, educator] = await Promise.all([api("/v1/framework"), api(base)]);
    const ctx = {framework, educator, compById: new Map(framework.competencies.map((c) => [c.id, c]))};
    await load(ctx);
    ctx.boxes = {summary: el("dl", {cls: "summary"}), map: el("div", {id: "map-body"}),
      steps: el("ol", {cls: "steps", id: "steps"}), evidence: el("div", {id: "evidence-body"}),
      consent: el("div", {id: "consent-body"})};
    const reload = async () => { await load(ctx); draw(ctx, reload); };
    const renewalMode = document.body.dataset.renewal;
    main.replaceChildren(
      el("header", {cls: "ed-head"},
        el("div", {}, el("h1", {text: `Your professional learning (${educatorId})`}),
          el("p", {cls: "muted", text: profileText(educator.profile)})), ctx.boxes.summary),
      el("div", {cls: "columns"},
        card("mine-map", "Your competency map", ctx.boxes.map,
          el("p", {cls: "muted hint", text: "Each bar is pdrec's estimate of your mastery, from the evidence it uses. ★ marks your goals."})),
        el("div", {cls: "side"},
          card("mine-steps", "Your next steps", ctx.boxes.steps),
          renewalMode ? window.pdrecRenewal.panel(educatorId, renewalMode, (id) => (ctx.compById.get(id) || {name: id}).name) : null)),
      card("mine-evidence", "Evidence held about you", ctx.boxes.evidence),
      card("mine-consent", "Your consent", ctx.boxes.consent));
    draw(ctx, reload);
    markReady();
  }

  view().catch(fail);
})();
