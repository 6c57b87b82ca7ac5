// Writes the files a pod of `bloom deploy k8s` sees under /etc/bloom/app into a directory
// instead: the ConfigMap's data at the paths the StatefulSets' volume gives its keys. For each
// DIR of manifests (`bloom deploy k8s -o DIR`), into OUT/(DIR's name).
//   node extract_files.js OUT DIR...
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const [out, ...dirs] = process.argv.slice(2);
for (const dir of dirs) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).map((f) => path.join(dir, f));
  const docs = files.flatMap((f) => yaml.loadAll(fs.readFileSync(f, "utf8"))).filter(Boolean);
  const maps = Object.fromEntries(docs.filter((d) => d.kind === "ConfigMap").map((d) => [d.metadata.name, d.data]));
  let written = 0;
  for (const d of docs.filter((d) => d.kind === "StatefulSet"))
    for (const v of d.spec.template.spec.volumes)
      for (const item of (v.configMap && v.configMap.items) || []) {
        const to = path.join(out, path.basename(dir), item.path);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.writeFileSync(to, maps[v.configMap.name][item.key]);
        written++;
      }
  if (!written) {
    console.error(`${dir}: no ConfigMap files in the manifests`);
    process.exit(1);
  }
}
