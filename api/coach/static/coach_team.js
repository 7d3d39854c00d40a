/* The coach page's teams: the tenant's team list, and a team's shared next steps.
 *
 * Plain JavaScript, no build step; the helpers come from common.js (window.pdrecUI). The list
 * reads GET /v1/teams; a team's view reads the team and asks POST /v1/teams/{id}/recommendations
 * (within an hour budget the coach sets) for the shared steps, each with every member's expected
 * gain, readiness and status. Members for whom a step is wrong (not ready: a prerequisite far
 * below; or already mastered) are named on the step, not only coloured. Loaded instead of
 * coach.js on /coach/teams pages; <body data-ready="true"> when a view is drawn.
 */
"use strict";

(() => {
  const {el, pct, hours, human, fmtDate, ago, enc, say, api, markReady, fail} = window.pdrecUI;
  const main = document.getElementById("main");

  /* ------------------------------------------------------------------ team list */

  async function listView() {
    document.title = "Teams · pdrec coach";
    const data = await api("/v1/teams?limit=500");
    const rows = data.items.map((t) => el("tr", {},
      el("th", {scope: "row"}, el("a", {href: `/coach/teams/${enc(t.team_id)}`, text: t.team_id})),
      el("td", {text: t.name || "—"}),
      el("td", {text: `${t.members.length} member${t.members.length === 1 ? "" : "s"}`}),
      el("td", {}, fmtDate(t.updated_at), el("span", {cls: "muted", text: ` (${ago(t.updated_at)})`}))));
    main.replaceChildren(
      el("h1", {text: "Teams"}),
      el("p", {id: "count", cls: "muted", text: data.total
        ? `${data.total} team${data.total === 1 ? "" : "s"}${data.total > data.items.length ? `, the first ${data.items.length} shown` : ""}`
        : "No teams yet: create one with PUT /v1/teams/{id} or pdrec teams put."}),
      el("table", {cls: "roster teams"},
        el("caption", {cls: "sr-only", text: "Teams of this tenant, with their members"}),
        el("thead", {}, el("tr", {}, ["Team", "Name", "Members", "Updated"].map(
          (t) => el("th", {scope: "col", text: t})))),
        el("tbody", {}, rows)));
    markReady();
  }

  /* ------------------------------------------------------------------ a team's steps */

  const STATUS = {
    fits: "Fits",
    not_ready: "Not ready",
    mastered: "Already mastered",
    closed: "Completed, declined or in progress",
    no_goal_gain: "No gain toward their goals",
  };

  /** The weak prerequisite of a not-ready member, in words ("Assessment literacy at 16%"). */
  function weakText(m, name) {
    if (!m || !m.weak_prerequisite) return "";
    const p = m.weak_prerequisite_p;
    return `${name(m.weak_prerequisite)}${p === null || p === undefined ? "" : ` at ${pct(p)}`}`;
  }

  function statusText(m, name) {
    const weak = m.status === "not_ready" ? weakText(m, name) : "";
    return weak ? `Not ready: ${weak}` : (STATUS[m.status] || human(m.status));
  }

  function flags(step, name) {
    const byId = new Map(step.members.map((m) => [m.educator_id, m]));
    const out = [];
    if (step.not_ready.length) {
      out.push(el("li", {cls: "flag not-ready"}, el("strong", {text: "⚠ Not ready (a prerequisite far below): "}),
        step.not_ready.map((e) => {
          const weak = weakText(byId.get(e), name);
          return weak ? `${e} (${weak})` : e;
        }).join(", ")));
    }
    if (step.mastered.length) {
      out.push(el("li", {cls: "flag mastered"}, el("strong", {text: "✓ Already mastered: "}),
        step.mastered.join(", ")));
    }
    return out.length ? el("ul", {cls: "flags", "aria-label": "Members this step is wrong for"}, out) : null;
  }

  function memberTable(step, name) {
    return el("table", {cls: "mini member-fit"},
      el("caption", {text: "Each member's fit"}),
      el("thead", {}, el("tr", {}, ["Member", "Expected gain", "Readiness", "Status"].map(
        (t) => el("th", {scope: "col", text: t})))),
      el("tbody", {}, step.members.map((m) => el("tr", {cls: `fit-${m.status}`, "data-member": m.educator_id},
        el("th", {scope: "row"}, el("a", {href: `/coach/educators/${enc(m.educator_id)}`, text: m.educator_id})),
        el("td", {text: `+${m.expected_gain.toFixed(2)}`}),
        el("td", {text: pct(m.readiness)}),
        el("td", {cls: "fit-status", text: statusText(m, name)})))));
  }

  function stepCard(step, name) {
    return el("li", {cls: "step team-step", "data-activity": step.activity_id},
      el("div", {cls: "step-head"},
        el("span", {cls: "rank", "aria-hidden": "true", text: step.rank}),
        el("h3", {}, el("span", {cls: "sr-only", text: `Step ${step.rank}: `}), step.title)),
      el("p", {cls: "meta", text: `${human(step.format)} · ${hours(step.hours)} · expected team gain ` +
        `+${step.team_gain.toFixed(2)} (${step.gain_per_hour.toFixed(3)} per hour)`}),
      el("p", {cls: "reason", text: step.reason}),
      flags(step, name),
      memberTable(step, name));
  }

  async function teamView(teamId) {
    document.title = `${teamId} · pdrec coach`;
    const [team, framework] = await Promise.all([api(`/v1/teams/${enc(teamId)}`), api("/v1/framework")]);
    const names = new Map(framework.competencies.map((c) => [c.id, c.name]));
    const name = (id) => names.get(id) || id;
    const budget = el("input", {id: "budget", type: "number", min: 0.5, max: 10000, step: 0.5,
      inputmode: "decimal", placeholder: "no limit"});
    const k = el("select", {id: "k"}, [1, 2, 3, 4, 5, 6, 8, 10].map(
      (n) => el("option", {value: n, text: n, selected: n === 3})));
    const list = el("ol", {cls: "steps team-steps", id: "team-steps", "aria-live": "polite"});
    const summary = el("p", {cls: "muted", id: "team-summary"});
    const missing = el("div", {id: "not-found"});
    const heading = el("h2", {id: "team-steps-h", tabindex: "-1", text: "Shared next steps"});

    async function load() {
      const hoursLimit = budget.value.trim() === "" ? null : Number(budget.value);
      if (hoursLimit !== null && !(hoursLimit > 0 && hoursLimit <= 10000)) {
        say(`Hour budget: got ${budget.value}, expected a number of hours above 0 and at most 10000, or empty for no limit.`, "error");
        budget.focus();
        return;
      }
      const body = {k: Number(k.value)};
      if (hoursLimit !== null) body.max_hours = hoursLimit;
      const data = await api(`/v1/teams/${enc(teamId)}/recommendations`, body);
      list.replaceChildren(...(data.steps.length ? data.steps.map((s) => stepCard(s, name))
        : [el("li", {cls: "muted", text: hoursLimit === null ? "No shared step to propose."
          : `No shared step fits in ${hours(hoursLimit)}.`})]));
      const total = data.steps.reduce((s, x) => s + x.hours, 0);
      summary.textContent = `${data.steps.length} shared step${data.steps.length === 1 ? "" : "s"}, ` +
        `${hours(total)} in all${hoursLimit === null ? "" : ` (budget ${hours(hoursLimit)})`}`;
      missing.replaceChildren(...(data.not_found.length ? [el("p", {cls: "alert", role: "note",
        text: `No educator record in this tenant, left out: ${data.not_found.join(", ")}`})] : []));
      list.dataset.budget = hoursLimit === null ? "" : String(hoursLimit);
      markReady();
    }

    main.replaceChildren(
      el("nav", {cls: "crumbs", "aria-label": "Breadcrumb"}, el("a", {href: "/coach/teams", text: "← All teams"})),
      el("header", {cls: "ed-head"},
        el("div", {},
          el("h1", {text: team.name || team.team_id}),
          el("p", {cls: "muted", text: `${team.team_id} · ${team.members.length} member${team.members.length === 1 ? "" : "s"}`})),
        el("ul", {cls: "chips members", "aria-label": "Members"}, team.members.map((m) => el("li", {cls: "chip"},
          el("a", {href: `/coach/educators/${enc(m)}`, text: m}))))),
      missing,
      el("section", {cls: "card", "aria-labelledby": "team-steps-h"},
        el("div", {cls: "section-head"}, heading, summary),
        el("form", {cls: "toolbar", id: "team-form", onsubmit: (ev) => {
          ev.preventDefault();
          load().then(() => heading.focus()).catch(fail);
        }},
        el("label", {for: "budget", text: "Hour budget"}), budget,
        el("label", {for: "k", text: "Steps"}), k,
        el("button", {cls: "btn primary", type: "submit", text: "Show shared steps"})),
        el("p", {cls: "muted hint", text: "Ranked by the members' expected progress toward their own goals per hour. " +
          "A member flagged not ready has a prerequisite far below what the step develops; one flagged mastered gains nothing from it."}),
        list));
    await load();
  }

  const teamId = document.body.dataset.team;
  (teamId ? teamView(teamId) : listView()).catch(fail);
})();
