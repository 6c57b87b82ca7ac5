// Validates Kubernetes manifests (YAML files, each one or more documents) against the schema of
// the Kubernetes API: kubernetes-models' classes are generated from its OpenAPI document and
// validate an object against it. Then checks what the schema cannot: that the objects the
// StatefulSets name (Service, ConfigMap and its keys, Secret and its keys) are in the set.
//   node validate_manifests.js FILE.yaml...      exit 0: all valid; 1: the problems, on stderr
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

const kinds = {
  "v1/Service": () => require("kubernetes-models/v1/Service").Service,
  "v1/ConfigMap": () => require("kubernetes-models/v1/ConfigMap").ConfigMap,
  "v1/Secret": () => require("kubernetes-models/v1/Secret").Secret,
  "apps/v1/StatefulSet": () => require("kubernetes-models/apps/v1/StatefulSet").StatefulSet,
};

const problems = [];
const objects = [];
for (const file of process.argv.slice(2)) {
  let docs;
  try {
    docs = yaml.loadAll(fs.readFileSync(file, "utf8"));
  } catch (e) {
    problems.push(`${file}: not YAML: ${e.message}`);
    continue;
  }
  docs.forEach((doc, i) => {
    if (doc === null || doc === undefined) return;
    const where = `${file}: document ${i + 1} (${doc.kind} ${doc.metadata && doc.metadata.name})`;
    const model = kinds[`${doc.apiVersion}/${doc.kind}`];
    if (!model) return problems.push(`${where}: unexpected apiVersion/kind ${doc.apiVersion}/${doc.kind}`);
    try {
      new (model())(doc).validate();
    } catch (e) {
      return problems.push(`${where}: ${e.message}`);
    }
    objects.push({ where, doc });
  });
}

const find = (kind, name) => objects.find((o) => o.doc.kind === kind && o.doc.metadata.name === name);
for (const { where, doc } of objects) {
  if (doc.kind !== "StatefulSet") continue;
  if (!find("Service", doc.spec.serviceName)) problems.push(`${where}: no Service ${doc.spec.serviceName}`);
  for (const v of doc.spec.template.spec.volumes || []) {
    const [kind, name, source] = v.configMap ? ["ConfigMap", v.configMap.name, "data"] : v.secret ? ["Secret", v.secret.secretName, "stringData"] : [];
    if (!kind) continue;
    const target = find(kind, name);
    if (!target) {
      problems.push(`${where}: volume ${v.name}: no ${kind} ${name}`);
      continue;
    }
    for (const item of (v.configMap || v.secret).items || [])
      if (!(item.key in (target.doc[source] || {}))) problems.push(`${where}: volume ${v.name}: ${kind} ${name} has no key ${item.key}`);
  }
}

for (const p of problems) console.error(p);
if (problems.length) process.exit(1);
console.log(`${objects.length} objects valid`);
