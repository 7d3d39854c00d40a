/* The renewal panel of an educator's coach view: progress per licence-renewal rule and the
 * fewest-hours plan that meets the rules (docs/renewal.md).
 *
 * Plain JavaScript, no build step; the helpers come from common.js (window.pdrecUI). Exposes
 * window.pdrecRenewal.panel(educatorId, mode, name), a <section> that fills itself from
 * GET /v1/educators/{id}/renewal and .../renewal/plan. mode comes from the page: "deadline"
 * (the tenant's rules set one: asked at once), "rules" (no deadline in the rules: the coach
 * picks a date first). When the rules cannot be met, the plan's shortfalls are shown as the API
 * states them: which rule, and by how many hours. The section gets data-loaded="true" once drawn.
 */
"use strict";

window.pdrecRenewal = (() => {
  const {el, hours, human, fmtDate, enc, api, progressBar, sizeBars} = window.pdrecUI;

  /** "Total hours", "interpersonal hours", with the rule id when it says something more. */
  function ruleName(r) {
    const name = r.kind === "category" ? `${human(r.category)} hours` : "Total hours";
    return [r.category, "total"].includes(r.rule_id) ? name : `${name} (${r.rule_id})`;
  }
  const round = (h) => Math.round(h * 10) / 10;

  function ruleRow(r) {
    const text = `${ruleName(r)}: ${hours(round(r.earned))} of ${hours(round(r.required))}` +
      (r.met ? " · met" : ` · ${hours(round(r.missing))} missing`);
    return el("li", {cls: r.met ? "rule met" : "rule", "data-rule": r.rule_id},
      progressBar(Math.min(r.earned, r.required), r.required, text));
  }

  function progressBody(p) {
    return [
      el("p", {cls: "renewal-when"}, el("strong", {text: `Deadline ${fmtDate(p.deadline)}`}),
        ` · ${p.days_left} days left · ${p.completions_counted} completion${p.completions_counted === 1 ? "" : "s"} counted` +
        (p.completions_unknown ? ` (${p.completions_unknown} not in the catalog, not credited)` : "")),
      el("ul", {cls: "rules plain", "aria-label": "Progress per rule"}, p.rules.map(ruleRow)),
      p.met ? el("p", {cls: "ok-note", text: "✓ Every rule is met."}) : null,
    ];
  }

  function shortfallItem(s) {
    return el("li", {"data-shortfall": s.id}, s.kind === "rule"
      ? [el("strong", {text: `Rule ${s.id} cannot be met: ${hours(round(s.hours))} short. `}), s.reason]
      : [el("strong", {text: `Goal ${s.id}: `}), s.reason]);
  }

  function planBody(plan, name) {
    const out = [el("h3", {text: "Plan to renew"})];
    if (!plan.feasible) {
      out.push(el("div", {cls: "alert shortfalls", role: "note"},
        el("p", {text: "The rules cannot all be met by the deadline with the activities allowed:"}),
        el("ul", {}, plan.shortfalls.map(shortfallItem))));
    }
    out.push(el("p", {cls: "total"}, `${plan.activities.length} activit${plan.activities.length === 1 ? "y" : "ies"}, `,
      el("strong", {text: `${hours(round(plan.total_hours))} in total`})));
    if (plan.activities.length) {
      const list = el("ol", {cls: "pathway renewal-plan"}, plan.activities.map((a) => el("li", {"data-activity": a.activity_id},
        el("div", {}, el("strong", {text: a.title}), a.times > 1 ? ` ×${a.times}` : ""),
        el("div", {cls: "pw-act"}, `${human(a.format)} · ${hours(round(a.hours))} · `,
          el("strong", {text: `${hours(round(a.credit))} credit`})))));
      // a long plan (an infeasible one takes every allowed activity) stays folded
      out.push(plan.activities.length <= 12 ? list
        : el("details", {}, el("summary", {text: `The ${plan.activities.length} activities`}), list));
    } else {
      out.push(el("p", {cls: "muted", text: "Nothing more to take."}));
    }
    out.push(el("p", {cls: "muted", text: "Projected by the deadline: " + plan.rules.map((r) =>
      `${ruleName(r)} ${hours(round(r.earned))} of ${hours(round(r.required))}${r.met ? " ✓" : ""}`).join("; ")}));
    if (plan.goals.length) out.push(el("p", {cls: "muted", text: `Covers a step toward each unmet goal: ${plan.goals.map(name).join(", ")}`}));
    return out;
  }

  /** The panel; name(competencyId) words the goals (default: the id). */
  function panel(educatorId, mode, name = (id) => id) {
    const body = el("div", {id: "renewal-body"}, el("p", {cls: "muted", text: "Loading…"}));
    const section = el("section", {cls: "card renewal", id: "renewal", "aria-labelledby": "renewal-h"},
      el("h2", {id: "renewal-h", text: "Licence renewal"}));
    const base = `/v1/educators/${enc(educatorId)}/renewal`;

    async function load(deadline) {
      const q = deadline ? `?deadline=${enc(deadline)}` : "";
      section.dataset.loaded = "false";
      try {
        const [progress, plan] = await Promise.all([api(base + q), api(`${base}/plan${q}`)]);
        body.replaceChildren(...[...progressBody(progress), ...planBody(plan, name)].filter(Boolean));
        sizeBars(body);
      } catch (err) {
        if (err.status === 401) return;
        body.replaceChildren(el("p", {cls: "alert", role: "alert", text: `Renewal not available: ${err.message}`}));
      }
      section.dataset.loaded = "true";
    }

    if (mode === "rules") {  // the tenant's rules set no deadline: the coach picks one
      const date = el("input", {id: "renewal-deadline", type: "date", required: true});
      section.append(el("form", {cls: "inline", onsubmit: (ev) => { ev.preventDefault(); load(date.value); }},
        el("label", {for: date.id, text: "Renewal deadline"}), date,
        el("button", {cls: "btn", type: "submit", text: "Show progress and plan"})));
      body.replaceChildren(el("p", {cls: "muted", text: "The renewal rules set no common deadline: choose the educator's."}));
    } else {
      load(null);
    }
    section.append(body);
    return section;
  }

  return Object.freeze({panel});
})();
