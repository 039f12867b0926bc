// Checks the deployment rules Gourmet's manifests promise, on a set of
// Kubernetes objects (deploy/k8s/*.yaml, or a `helm template` output):
//
// - capture-agent DaemonSet: host network, cluster DNS from the host network,
//   capabilities NET_RAW/NET_ADMIN/IPC_LOCK only (ALL dropped), tolerates
//   every taint (unless --custom-tolerations);
// - every other workload: non-root, no capability added;
// - every container: read-only root filesystem, no privilege escalation, not
//   privileged, CPU/memory requests and a memory limit, liveness and
//   readiness probes (native gRPC probes for the gRPC servers);
// - references resolve: ConfigMaps and Secrets mounted exist, a StatefulSet's
//   serviceName is a headless Service, Services, PDBs, HPAs and
//   NetworkPolicies select or target a workload that exists.
//
// Usage: node check-policy.mjs [--custom-tolerations] FILE... | -
import fs from "node:fs";
import yaml from "js-yaml";

const args = process.argv.slice(2);
const customTolerations = args.includes("--custom-tolerations");
const files = args.filter((a) => !a.startsWith("--"));
const objects = [];
for (const f of files) {
  const text = f === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(f, "utf8");
  for (const d of yaml.loadAll(text)) if (d && typeof d === "object") objects.push(d);
}

const problems = [];
const bad = (obj, msg) => problems.push(`${obj.kind}/${obj.metadata?.name}: ${msg}`);
const of = (kind) => objects.filter((o) => o.kind === kind);
const workloads = objects.filter((o) => ["DaemonSet", "Deployment", "StatefulSet"].includes(o.kind));
const matches = (selector, labels) =>
  selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels && labels[k] === v);
const podLabels = (w) => w.spec?.template?.metadata?.labels || {};
const names = (kind) => new Set(of(kind).map((o) => o.metadata.name));

if (workloads.length === 0) problems.push("no workload found");

for (const w of workloads) {
  const pod = w.spec.template.spec;
  const isAgent = w.kind === "DaemonSet";
  if (!matches(w.spec.selector?.matchLabels, podLabels(w))) bad(w, "selector does not match its pod labels");
  if (isAgent) {
    if (pod.hostNetwork !== true) bad(w, "capture needs hostNetwork: true");
    if (pod.dnsPolicy !== "ClusterFirstWithHostNet") bad(w, "hostNetwork pods need dnsPolicy: ClusterFirstWithHostNet");
    if (!customTolerations && !(pod.tolerations || []).some((t) => t.operator === "Exists" && !t.key)) {
      bad(w, "must tolerate every taint (operator: Exists) to run on every node");
    }
  } else {
    if (pod.hostNetwork) bad(w, "only the capture agent may use the host network");
    if (pod.securityContext?.runAsNonRoot !== true) bad(w, "must run as non-root (runAsNonRoot: true)");
  }
  if (pod.automountServiceAccountToken !== false) bad(w, "no service account token needed: automountServiceAccountToken: false");
  for (const c of pod.containers || []) {
    const sc = c.securityContext || {};
    const where = `container ${c.name}`;
    if (sc.readOnlyRootFilesystem !== true) bad(w, `${where}: readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) bad(w, `${where}: allowPrivilegeEscalation must be false`);
    if (sc.privileged) bad(w, `${where}: must not be privileged`);
    const drop = sc.capabilities?.drop || [];
    const add = [...(sc.capabilities?.add || [])].sort();
    if (!drop.includes("ALL")) bad(w, `${where}: must drop ALL capabilities`);
    if (isAgent) {
      const want = ["IPC_LOCK", "NET_ADMIN", "NET_RAW"];
      if (JSON.stringify(add) !== JSON.stringify(want)) bad(w, `${where}: capabilities must be exactly ${want.join(", ")}, got ${add.join(", ")}`);
    } else if (add.length) {
      bad(w, `${where}: adds capabilities ${add.join(", ")}`);
    }
    const res = c.resources || {};
    if (!res.requests?.cpu || !res.requests?.memory) bad(w, `${where}: needs CPU and memory requests`);
    if (!res.limits?.memory) bad(w, `${where}: needs a memory limit`);
    if (!c.livenessProbe || !c.readinessProbe) bad(w, `${where}: needs liveness and readiness probes`);
    const grpcPort = (c.ports || []).find((p) => p.name === "grpc");
    if (grpcPort) {
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        if (!c[probe]) continue;
        if (!c[probe].grpc) bad(w, `${where}: ${probe} of a gRPC server must be a native grpc probe`);
        else if (c[probe].grpc.port !== grpcPort.containerPort) bad(w, `${where}: ${probe} probes port ${c[probe].grpc.port}, serves ${grpcPort.containerPort}`);
      }
    }
    // Every mounted volume is declared.
    const vols = new Set([...(pod.volumes || []).map((v) => v.name),
      ...((w.spec.volumeClaimTemplates || []).map((t) => t.metadata.name))]);
    for (const m of c.volumeMounts || []) if (!vols.has(m.name)) bad(w, `${where}: mounts undeclared volume ${m.name}`);
  }
  for (const v of pod.volumes || []) {
    if (v.configMap && !names("ConfigMap").has(v.configMap.name)) bad(w, `volume ${v.name}: ConfigMap ${v.configMap.name} not defined`);
    if (v.secret && !names("Secret").has(v.secret.secretName)) bad(w, `volume ${v.name}: Secret ${v.secret.secretName} not defined`);
  }
  if (w.kind === "StatefulSet") {
    const svc = of("Service").find((s) => s.metadata.name === w.spec.serviceName);
    if (!svc) bad(w, `serviceName ${w.spec.serviceName} is not a Service here`);
    else if (svc.spec.clusterIP !== "None") bad(w, `Service ${svc.metadata.name} must be headless`);
  }
}

for (const s of of("Service")) {
  if (!workloads.some((w) => matches(s.spec.selector, podLabels(w)))) bad(s, "selects no workload");
  for (const p of s.spec.ports || []) {
    if (typeof p.targetPort !== "string") continue;
    const target = workloads.find((w) => matches(s.spec.selector, podLabels(w)));
    const named = target?.spec.template.spec.containers.some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort));
    if (target && !named) bad(s, `targetPort ${p.targetPort} is no container port of ${target.metadata.name}`);
  }
}
for (const pdb of of("PodDisruptionBudget")) {
  if (!workloads.some((w) => matches(pdb.spec.selector?.matchLabels, podLabels(w)))) bad(pdb, "selects no workload");
}
for (const hpa of of("HorizontalPodAutoscaler")) {
  const t = hpa.spec.scaleTargetRef;
  const w = workloads.find((x) => x.kind === t.kind && x.metadata.name === t.name);
  if (!w) bad(hpa, `targets ${t.kind}/${t.name}, not defined`);
  else {
    if (w.spec.replicas !== undefined) bad(hpa, `${t.kind}/${t.name} sets replicas, which fights the autoscaler`);
    if (!w.spec.template.spec.containers.every((c) => c.resources?.requests?.cpu)) bad(hpa, "CPU utilization needs CPU requests");
  }
}
for (const np of of("NetworkPolicy")) {
  const sel = np.spec.podSelector?.matchLabels;
  if (sel && !workloads.some((w) => matches(sel, podLabels(w)))) bad(np, "selects no workload");
}

if (problems.length) {
  for (const p of problems) console.log(`FAIL ${p}`);
  process.exit(1);
}
console.log(`ok   policy: ${workloads.length} workloads, ${objects.length} objects`);
