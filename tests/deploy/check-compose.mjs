// Checks deploy/docker/compose.yaml offline: every service builds from a
// Dockerfile that exists (with its context), every host path it mounts exists,
// every file a Dockerfile COPYs from the build context exists, and a file the
// agent is told to read (-r /data/...) is in the directory mounted there.
//
// Usage: node check-compose.mjs REPO
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

const repo = process.argv[2];
const composeFile = path.join(repo, "deploy/docker/compose.yaml");
const base = path.dirname(composeFile);
const problems = [];
const doc = yaml.load(fs.readFileSync(composeFile, "utf8"));
const services = doc?.services || {};
if (Object.keys(services).length !== 3) problems.push(`expected 3 services, got ${Object.keys(services).join(", ")}`);

for (const [name, svc] of Object.entries(services)) {
  const known = new Set(["build", "image", "read_only", "cap_drop", "cap_add", "security_opt", "volumes", "ports",
    "depends_on", "command", "restart", "user", "network_mode", "environment"]);
  for (const k of Object.keys(svc)) if (!known.has(k)) problems.push(`${name}: unexpected key ${k}`);
  if (!svc.build) {
    problems.push(`${name}: no build section`);
    continue;
  }
  const ctx = path.resolve(base, svc.build.context);
  const dockerfile = path.resolve(ctx, svc.build.dockerfile);
  if (!fs.existsSync(dockerfile)) {
    problems.push(`${name}: Dockerfile ${dockerfile} missing`);
    continue;
  }
  // COPY sources from the context (not --from=stage) must exist.
  for (const line of fs.readFileSync(dockerfile, "utf8").split("\n")) {
    const m = line.match(/^COPY\s+(?!--from)(.*)$/);
    if (!m) continue;
    const parts = m[1].split(/\s+/).filter((p) => !p.startsWith("--"));
    for (const src of parts.slice(0, -1)) {
      if (src !== "." && !fs.existsSync(path.join(ctx, src))) problems.push(`${name}: COPY source ${src} missing`);
    }
  }
  const mounts = {};
  for (const v of svc.volumes || []) {
    const [src, dst] = String(v).split(":");
    if (src.startsWith(".") || src.startsWith("/")) {
      const host = path.resolve(base, src);
      if (!fs.existsSync(host)) problems.push(`${name}: mounted path ${src} missing`);
      mounts[dst] = host;
    } else if (!(doc.volumes && src in doc.volumes)) {
      problems.push(`${name}: named volume ${src} not declared`);
    }
  }
  const cmd = svc.command || [];
  const r = cmd.indexOf("-r");
  if (r >= 0) {
    const file = cmd[r + 1];
    const dir = Object.keys(mounts).find((d) => file.startsWith(d + "/"));
    if (!dir || !fs.existsSync(path.join(mounts[dir], file.slice(dir.length + 1)))) {
      problems.push(`${name}: reads ${file}, which no mounted directory provides`);
    }
  }
  for (const dep of svc.depends_on || []) if (!(dep in services)) problems.push(`${name}: depends on unknown ${dep}`);
}
if (problems.length) {
  for (const p of problems) console.log(`FAIL compose: ${p}`);
  process.exit(1);
}
console.log(`ok   compose: ${Object.keys(services).length} services, Dockerfiles, contexts and mounts exist`);
