// Validates Kubernetes manifests offline against the API schemas shipped by the
// npm packages kubernetes-models (built-in kinds) and
// @kubernetes-models/prometheus-operator (ServiceMonitor, PrometheusRule).
//
// Usage: node validate-k8s.mjs [--dump-configs DIR] [--label NAME] FILE... (or - for stdin)
//
// Every YAML document must be a Kubernetes object whose apiVersion/kind has a
// schema; it must pass the schema AND carry no field the schema does not know
// (the packages' validators accept unknown fields, as the API server's
// non-strict decoding does; `kubectl --validate=strict` would reject them, so
// do we). Duplicate kind/namespace/name objects are rejected too.
//
// --dump-configs DIR writes every ConfigMap data entry whose key ends in .yaml
// to DIR/<configmap>__<key>, so check.sh can feed them to the real binaries.
//
// Prints one line per object and a summary; exits 1 on any failure.
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

// Unknown-field detection. The validators are compiled JSON-schema code that
// reads `data.<prop>` for every property the schema defines and enumerates
// (`for key in data`) only map-like objects (labels, ConfigMap data...). So
// we hand them a proxy that records which keys each object was asked for:
// an own key that was never read belongs to no schema property.
function tracked(root) {
  const records = new Map(); // target object -> {path, read:Set, enumerated}
  const proxies = new WeakMap();
  function wrap(value, where) {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    const rec = { path: where, read: new Set(), enumerated: false, isArray: Array.isArray(value) };
    records.set(value, rec);
    const p = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === "string") rec.read.add(key);
        const v = Reflect.get(target, key, receiver);
        if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key)) return v;
        return wrap(v, rec.isArray ? `${where}[${key}]` : `${where}.${key}`);
      },
      has(target, key) {
        if (typeof key === "string") rec.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        rec.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, p);
    return p;
  }
  return { proxy: wrap(root, ""), records };
}

function unknownFields(records) {
  const out = [];
  for (const [obj, rec] of records) {
    if (rec.isArray || rec.enumerated) continue; // arrays and maps: every key is data
    if (rec.read.size === 0) continue;           // free-form object (no properties in its schema)
    for (const key of Object.keys(obj)) {
      if (!rec.read.has(key)) out.push(`${rec.path}.${key}`.replace(/^\./, ""));
    }
  }
  return out;
}

// apiVersion + kind -> the module that defines its model.
function modulePath(apiVersion, kind) {
  if (!/^[A-Za-z0-9]+$/.test(kind)) return null;
  const parts = apiVersion.split("/");
  if (parts.length === 1) return `kubernetes-models/${parts[0]}/${kind}`; // core group, e.g. v1
  const [group, version] = parts;
  if (group === "monitoring.coreos.com") {
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  }
  return `kubernetes-models/${group}/${version}/${kind}`;
}

async function modelFor(apiVersion, kind) {
  const mod = modulePath(apiVersion, kind);
  if (!mod) return null;
  try {
    const m = await import(mod);
    return m[kind] || null;
  } catch (e) {
    if (e && (e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || e.code === "ERR_MODULE_NOT_FOUND")) return null;
    throw e;
  }
}

const args = process.argv.slice(2);
let dumpDir = null;
let label = "";
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--dump-configs") dumpDir = args[++i];
  else if (args[i] === "--label") label = args[++i];
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error("usage: node validate-k8s.mjs [--dump-configs DIR] [--label NAME] FILE... | -");
  process.exit(2);
}
if (dumpDir) fs.mkdirSync(dumpDir, { recursive: true });

let passed = 0;
let failed = 0;
const seen = new Set();
const fail = (where, msg) => {
  failed++;
  console.log(`FAIL ${where}: ${msg}`);
};

for (const file of files) {
  const text = file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(file, "utf8");
  const source = file === "-" ? label || "stdin" : path.relative(process.cwd(), file);
  let docs;
  try {
    docs = yaml.loadAll(text);
  } catch (e) {
    fail(source, `YAML: ${e.message}`);
    continue;
  }
  let n = 0;
  for (const doc of docs) {
    n++;
    if (doc === null || doc === undefined) continue; // empty document between ---
    const where = `${source}#${n}`;
    if (typeof doc !== "object" || Array.isArray(doc)) {
      fail(where, "not a Kubernetes object");
      continue;
    }
    const { apiVersion, kind } = doc;
    const name = doc.metadata && doc.metadata.name;
    const id = `${kind}/${name}`;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      fail(where, "apiVersion and kind are required");
      continue;
    }
    if (!name) {
      fail(`${where} ${kind}`, "metadata.name is required");
      continue;
    }
    const key = `${apiVersion}|${kind}|${doc.metadata.namespace || ""}|${name}`;
    if (seen.has(`${source}|${key}`)) {
      fail(`${source} ${id}`, "defined twice");
      continue;
    }
    seen.add(`${source}|${key}`);
    const Kind = await modelFor(apiVersion, kind);
    if (!Kind) {
      fail(`${source} ${id}`, `no schema for ${apiVersion} ${kind}`);
      continue;
    }
    const { proxy, records } = tracked(doc);
    try {
      // The model's validate() runs the compiled schema on `this`.
      Kind.prototype.validate.call(proxy);
    } catch (e) {
      fail(`${source} ${id}`, `schema: ${e.message}`);
      continue;
    }
    const unknown = unknownFields(records);
    if (unknown.length) {
      fail(`${source} ${id}`, `unknown field(s): ${unknown.join(", ")}`);
      continue;
    }
    passed++;
    console.log(`ok   ${source} ${apiVersion} ${id}`);
    if (dumpDir && kind === "ConfigMap" && doc.data) {
      for (const [k, v] of Object.entries(doc.data)) {
        if (k.endsWith(".yaml") || k.endsWith(".yml")) {
          fs.writeFileSync(path.join(dumpDir, `${name}__${k}`), v);
        }
      }
    }
  }
}
console.log(`k8s schema: ${passed} objects valid, ${failed} invalid`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
