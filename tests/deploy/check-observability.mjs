// Consistency checks of Gourmet's Prometheus rules and Grafana dashboard.
//
//   node check-observability.mjs REPO rules-sync [--write]
//       deploy/k8s/prometheusrule.yaml carries exactly the groups of
//       deploy/prometheus/rules.yml (--write regenerates it from them).
//   node check-observability.mjs REPO dashboard
//       deploy/grafana/gourmet-dashboard.json is a well-formed dashboard:
//       unique panel ids, a grid position and queries for every panel, every
//       query on the ${datasource} variable.
//   node check-observability.mjs REPO metric-names
//       every gourmet_* metric named by the rules or the dashboard is one the
//       services register (its name appears as a string in their sources).
//
// Exits 1 with a message on failure.
import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import yaml from "js-yaml";

const [repo, cmd, ...rest] = process.argv.slice(2);
if (!repo || !cmd) {
  console.error("usage: node check-observability.mjs REPO rules-sync [--write] | dashboard | metric-names");
  process.exit(2);
}
const p = (...a) => path.join(repo, ...a);
const die = (msg) => {
  console.log(`FAIL ${msg}`);
  process.exit(1);
};

const rulesFile = p("deploy/prometheus/rules.yml");
const k8sRuleFile = p("deploy/k8s/prometheusrule.yaml");
const dashboardFile = p("deploy/grafana/gourmet-dashboard.json");

function loadRules() {
  const doc = yaml.load(fs.readFileSync(rulesFile, "utf8"));
  if (!doc || !Array.isArray(doc.groups)) die(`${rulesFile}: no groups`);
  return doc;
}

function loadDashboard() {
  try {
    return JSON.parse(fs.readFileSync(dashboardFile, "utf8"));
  } catch (e) {
    die(`${dashboardFile}: ${e.message}`);
  }
}

function allPanels(d) {
  const out = [];
  for (const panel of d.panels || []) {
    out.push(panel);
    for (const inner of panel.panels || []) out.push(inner);
  }
  return out;
}

if (cmd === "rules-sync") {
  const rules = loadRules();
  const header = [
    "# GENERATED from deploy/prometheus/rules.yml by",
    "#   node tests/deploy/check-observability.mjs . rules-sync --write",
    "# (run from the deploy tools cache, see tests/deploy/check.sh). Edit rules.yml,",
    "# not this file: tests/deploy/check.sh fails when they differ.",
    "# For the Prometheus Operator; needs its CRDs.",
    "",
  ].join("\n");
  const obj = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "gourmet",
      namespace: "gourmet",
      labels: { "app.kubernetes.io/part-of": "gourmet" },
    },
    spec: { groups: rules.groups },
  };
  if (rest.includes("--write")) {
    fs.writeFileSync(k8sRuleFile, header + yaml.dump(obj, { lineWidth: 100, noRefs: true }));
    console.log(`wrote ${k8sRuleFile}`);
    process.exit(0);
  }
  if (!fs.existsSync(k8sRuleFile)) die(`${k8sRuleFile} is missing`);
  const have = yaml.load(fs.readFileSync(k8sRuleFile, "utf8"));
  if (!have || !have.spec || !isDeepStrictEqual(have.spec.groups, rules.groups)) {
    die(`${k8sRuleFile} differs from ${rulesFile}; regenerate it with rules-sync --write`);
  }
  const n = rules.groups.reduce((a, g) => a + g.rules.length, 0);
  console.log(`ok   prometheusrule.yaml carries the ${n} rules of rules.yml`);
} else if (cmd === "dashboard") {
  const d = loadDashboard();
  for (const k of ["title", "uid", "panels", "schemaVersion", "templating"]) {
    if (!(k in d)) die(`dashboard: no ${k}`);
  }
  const vars = (d.templating.list || []).map((v) => v.name);
  if (!vars.includes("datasource")) die("dashboard: no datasource variable");
  const ids = new Set();
  let queries = 0;
  for (const panel of allPanels(d)) {
    const where = `panel ${panel.id} "${panel.title}"`;
    if (typeof panel.id !== "number" || ids.has(panel.id)) die(`dashboard: ${where}: missing or duplicate id`);
    ids.add(panel.id);
    const g = panel.gridPos;
    if (!g || [g.x, g.y, g.w, g.h].some((v) => typeof v !== "number") || g.x + g.w > 24) {
      die(`dashboard: ${where}: bad gridPos`);
    }
    if (panel.type === "row") continue;
    if (!panel.title) die(`dashboard: panel ${panel.id} has no title`);
    if (!Array.isArray(panel.targets) || panel.targets.length === 0) die(`dashboard: ${where}: no queries`);
    for (const t of panel.targets) {
      if (!t.expr || !t.refId) die(`dashboard: ${where}: a query without expr or refId`);
      const ds = t.datasource || panel.datasource;
      if (!ds || ds.uid !== "${datasource}") die(`dashboard: ${where}: query not on the \${datasource} variable`);
      // Balanced brackets: a cheap guard against broken PromQL.
      for (const [o, c] of [["(", ")"], ["{", "}"], ["[", "]"]]) {
        if (t.expr.split(o).length !== t.expr.split(c).length) die(`dashboard: ${where}: unbalanced ${o}${c} in ${t.expr}`);
      }
      queries++;
    }
  }
  console.log(`ok   dashboard: ${ids.size} panels, ${queries} queries`);
} else if (cmd === "metric-names") {
  const used = new Map(); // metric -> where
  const collect = (text, where) => {
    for (const m of text.matchAll(/\bgourmet_[a-z0-9_]+/g)) {
      const base = m[0].replace(/_(bucket|sum|count)$/, "");
      if (!used.has(base)) used.set(base, where);
    }
  };
  for (const g of loadRules().groups) {
    for (const r of g.rules) collect(r.expr, `rule ${r.alert || r.record}`);
  }
  for (const panel of allPanels(loadDashboard())) {
    for (const t of panel.targets || []) collect(t.expr, `dashboard panel "${panel.title}"`);
  }
  let sources = "";
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (/\.(cc|h|cpp|hpp)$/.test(e.name)) sources += fs.readFileSync(f, "utf8");
    }
  };
  for (const dir of ["capture-agent", "analyzer-host", "log-sink", "services"]) {
    if (fs.existsSync(p(dir))) walk(p(dir));
  }
  const missing = [...used].filter(([name]) => !sources.includes(`"${name}"`));
  if (missing.length) {
    die(`metrics not registered by any service: ${missing.map(([n, w]) => `${n} (${w})`).join(", ")}`);
  }
  console.log(`ok   ${used.size} metric names used by rules and dashboard are registered by the services`);
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
