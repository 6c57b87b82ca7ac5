#!/usr/bin/env bash
# The tests of `bloom deploy` (docs/deploy.md, "On Kubernetes" and "With systemd"), with the real
# binary:
#   check_deploy.sh npm-ci BLOOM NPM_DIR       install the validator (package-lock.json) in NPM_DIR
#   check_deploy.sh k8s-schema BLOOM NPM_DIR   every example's manifests valid against the
#                                              Kubernetes schema; golden/ as expected
#   check_deploy.sh k8s-errors BLOOM           bad input: clear errors, exit 2, nothing written
#   check_deploy.sh systemd BLOOM              units as expected; systemd-analyze verify passes
# Exit 77 (CTest: skipped) when node/npm or systemd-analyze are not installed.
set -uo pipefail
mode=$1 bloom=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect STATUS PATTERN CMD...: CMD exits STATUS and says PATTERN (grep -E) on stderr.
expect() {
  local status=$1 pattern=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" -eq "$status" ] || { cat "$work/err" >&2; fail "$* exited $got, expected $status"; }
  grep -Eq -- "$pattern" "$work/err" || { cat "$work/err" >&2; fail "$*: stderr does not say /$pattern/"; }
}

case $mode in
npm-ci)
  npm_dir=$3
  command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node and npm are not installed (tools/install-deps.sh)"; exit 77; }
  mkdir -p "$npm_dir"
  cp "$here/package.json" "$here/package-lock.json" "$npm_dir/"
  # Only the npm registry: the pinned versions of package-lock.json, nothing from elsewhere.
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in $npm_dir"
  ;;
k8s-schema)
  npm_dir=$3
  command -v node >/dev/null || { echo "SKIP: node is not installed (tools/install-deps.sh)"; exit 77; }
  [ -d "$npm_dir/node_modules/kubernetes-models" ] || fail "no validator in $npm_dir (the deploy_npm_ci fixture did not run?)"
  validate() { NODE_PATH="$npm_dir/node_modules" node "$here/validate_manifests.js" "$@"; }
  n=0
  for toml in "$repo"/examples/*/deploy.toml; do
    ex=$(basename "$(dirname "$toml")")
    "$bloom" deploy k8s "$toml" -o "$work/$ex" -q || fail "bloom deploy k8s $toml"
    # The Secret's file holds secret keys: nobody else may read it.
    [ "$(stat -c %a "$work/$ex/${ex//_/-}-keys.yaml")" = 600 ] || fail "${ex//_/-}-keys.yaml is not mode 0600"
    n=$((n + 1))
  done
  [ "$n" -ge 8 ] || fail "only $n example deployments"
  # One deployment byte for byte: keys from its files, an import, facts, params of every kind,
  # a data_dir.
  "$bloom" deploy k8s "$here/golden/deploy.toml" --show-secrets --image bloom:test > "$work/golden.yaml" || fail "bloom deploy k8s golden"
  diff -u "$here/golden/expected.k8s.yaml" "$work/golden.yaml" || fail "golden manifests differ (expected.k8s.yaml)"
  validate "$work"/*/*.yaml "$work/golden.yaml" || fail "the manifests do not validate"
  # The validator must catch what the schema forbids, and a missing object, or the checks above
  # prove nothing.
  sed 's/containerPort: 7201/containerPort: "7201"/' "$work/golden.yaml" > "$work/bad-port.yaml"
  sed 's/secretName: golden-keys/secretName: golden-key/' "$work/golden.yaml" > "$work/bad-secret.yaml"
  ! validate "$work/bad-port.yaml" "$work/bad-secret.yaml" 2>"$work/err" || fail "the validator took broken manifests"
  grep -q "bad-port.yaml: .*containerPort must be integer" "$work/err" || { cat "$work/err" >&2; fail "the validator did not name containerPort"; }
  grep -q "bad-secret.yaml: .*no Secret golden-key" "$work/err" || { cat "$work/err" >&2; fail "the validator did not miss the Secret"; }
  # What a pod sees is a deployment bloom accepts: its programs, imports, facts and params are all
  # in the ConfigMap (the rewritten endpoints resolve only in the cluster, and check needs not).
  NODE_PATH="$npm_dir/node_modules" node "$here/extract_files.js" "$work/app" "$work"/*/ || fail "extracting the ConfigMaps' files"
  tomls=$(find "$work/app" -name deploy.toml | sort)
  [ "$(echo "$tomls" | wc -l)" -eq "$n" ] || fail "not one deployment file per example in the ConfigMaps: $tomls"
  "$bloom" check -q $tomls || fail "a deployment in a ConfigMap does not check"
  for t in $tomls; do
    ! grep '^endpoint' "$t" | grep -vq 'endpoint = "tcp://[a-z0-9-]*-0\.[a-z0-9-]*\.default\.svc\.cluster\.local:[0-9]*"$' ||
      fail "$t: an endpoint not rewritten to a pod's name"
  done
  echo "ok: $n example deployments and golden/ valid"
  ;;
k8s-pods)
  # examples/chat as its pods would run it: in a private mount namespace whose /etc has the
  # ConfigMap's files at /etc/bloom/app, each node's key from the Secret at /etc/bloom/keys, and
  # the pods' DNS names in /etc/hosts (127.0.0.2-4 for the pods' addresses); each node started
  # with its StatefulSet's command and args. It must end with the example's expected outputs.
  npm_dir=$3
  command -v node >/dev/null || { echo "SKIP: node is not installed (tools/install-deps.sh)"; exit 77; }
  unshare -m --propagation private true 2>/dev/null || { echo "SKIP: no private mount namespace here (unshare -m needs root)"; exit 77; }
  "$bloom" deploy k8s "$repo/examples/chat/deploy.toml" -o "$work/m" -q || fail "bloom deploy k8s chat"
  export NODE_PATH="$npm_dir/node_modules"
  cp -a /etc "$work/etc" 2>/dev/null
  mkdir -p "$work/etc/bloom/keys"
  node "$here/extract_files.js" "$work/etc/bloom" "$work/m" && mv "$work/etc/bloom/m" "$work/etc/bloom/app" || fail "extracting the files"
  node -e '
    const yaml = require("js-yaml"), fs = require("fs"), [m, etc] = process.argv.slice(1);
    const docs = fs.readdirSync(m).flatMap((f) => yaml.loadAll(fs.readFileSync(m + "/" + f, "utf8")));
    const keys = docs.find((d) => d.kind === "Secret").stringData;
    for (const [k, v] of Object.entries(keys)) fs.writeFileSync(etc + "/bloom/keys/" + k, v, { mode: 0o600 });
    let ip = 2;
    for (const d of docs.filter((d) => d.kind === "StatefulSet")) {
      const pod = d.metadata.name + "-0." + d.spec.serviceName + ".default.svc.cluster.local";
      fs.appendFileSync(etc + "/hosts", "127.0.0." + ip++ + " " + pod + "\n");
      const c = d.spec.template.spec.containers[0];
      fs.writeFileSync(etc + "/bloom/" + c.args[c.args.indexOf("--name") + 1] + ".args", [...c.command, ...c.args].join("\n") + "\n");
    }' "$work/m" "$work/etc" || fail "reading the Secret and the StatefulSets"
  cat > "$work/pods.sh" <<'PODS'
set -u
work=$1 bloom=$2
mount --bind "$work/etc" /etc || exit 1
pids=()
for n in server alice bob; do
  readarray -t cmd < "/etc/bloom/$n.args"
  [ "${cmd[0]}" = bloom ] || exit 1
  BLOOM_JIT_CACHE=off "$bloom" "${cmd[@]:1}" -D "$work/out/$n" > "$work/$n.log" 2>&1 &
  pids+=($!)
done
# Until every output has its expected rows (the nodes append them as ticks complete), at most 60 s.
for i in $(seq 600); do
  done=1
  for f in "$work"/expected/*/*.csv; do
    got="$work/out/${f#$work/expected/}"
    [ -f "$got" ] && [ "$(wc -l < "$got")" -ge "$(wc -l < "$f")" ] || done=0
  done
  [ $done = 1 ] && break
  sleep 0.1
done
kill -TERM "${pids[@]}"
wait
PODS
  cp -r "$repo/examples/chat/expected" "$work/expected"
  unshare -m --propagation private bash "$work/pods.sh" "$work" "$bloom" || fail "running the pods"
  for f in "$work"/expected/*/*.csv; do
    rel=${f#$work/expected/}
    diff -u "$f" "$work/out/$rel" || { cat "$work"/*.log >&2; fail "examples/chat as pods: $rel differs from the expected"; }
  done
  grep -q "alice joined" "$work/server.log" || fail "the server's stdout lines are missing"
  echo "ok: examples/chat ran from its manifests"
  ;;
k8s-errors)
  expect 2 "nonexistent\.toml" "$bloom" deploy k8s "$work/nonexistent.toml" -o "$work/o1"
  printf '[node.a]\nprogram = \n' > "$work/bad.toml"
  expect 2 "bad\.toml:2:" "$bloom" deploy k8s "$work/bad.toml" -o "$work/o2"
  [ ! -e "$work/o1" ] && [ ! -e "$work/o2" ] || fail "a bad deployment file left an output directory"
  expect 2 "-o /dev/null/x: cannot create the directory" "$bloom" deploy k8s "$here/golden/deploy.toml" -o /dev/null/x
  expect 2 "-o /dev/null/x: cannot create the directory" "$bloom" deploy systemd "$here/golden/deploy.toml" -o /dev/null/x
  expect 2 "--namespace My_NS: a namespace is" "$bloom" deploy k8s "$here/golden/deploy.toml" -o "$work/o3" --namespace My_NS
  expect 2 "--memory-limit 512MB: not a Kubernetes quantity" "$bloom" deploy k8s "$here/golden/deploy.toml" -o "$work/o3" --memory-limit 512MB
  [ ! -e "$work/o3" ] || fail "a refused option left an output directory"
  # Secret keys never go to stdout unless asked.
  expect 2 "include a Secret.*-o DIR.*--show-secrets" "$bloom" deploy k8s "$repo/examples/chat/deploy.toml"
  [ ! -s "$work/out" ] || fail "a refused deployment printed something on stdout"
  # Pods reach each other over TCP only.
  mkdir -p "$work/ipc" && cp "$here/golden/store.bloom" "$work/ipc/" && cp -r "$here/golden/lib" "$work/ipc/"
  printf 'insecure = true\n[node.store]\nprogram = "store.bloom"\nendpoint = "ipc:///tmp/bloom-store"\n' > "$work/ipc/deploy.toml"
  expect 2 "deploy\.toml:4:12: error: node .store. listens at .ipc:///tmp/bloom-store.: pods reach each other only over tcp://" \
    "$bloom" deploy k8s "$work/ipc/deploy.toml"
  # A program that does not compile: its diagnostics, then the node.
  printf 'insecure = true\n[node.store]\nprogram = "store.bloom"\nendpoint = "tcp://127.0.0.1:7201"\n' > "$work/ipc/deploy.toml"
  printf 'table t(x: int);\nt(y) <= t(x);\n' > "$work/ipc/store.bloom"
  expect 1 "error: the program of node .store." "$bloom" deploy k8s "$work/ipc/deploy.toml"
  expect 1 "error: the program of node .store." "$bloom" deploy systemd "$work/ipc/deploy.toml" -o "$work/o4"
  [ ! -e "$work/o4" ] || fail "a program that does not compile left an output directory"
  # A param of the wrong type: the place in the deployment file, exit 1 as for `bloom check`.
  cp -r "$here/golden" "$work/g" && sed -i 's/scale = 10/scale = "ten"/' "$work/g/deploy.toml"
  expect 1 "deploy\.toml:14:1: error: the program of node .tally_1. .* cannot be used" "$bloom" deploy k8s "$work/g/deploy.toml" -o "$work/o5"
  [ ! -e "$work/o5" ] || fail "a bad param left an output directory"
  # systemd: `bloom node` needs keys or insecure = true.
  expect 2 "secured with CURVE but names no keys.*bloom keygen" "$bloom" deploy systemd "$repo/examples/chat/deploy.toml"
  # Rewriting a file: the old one is replaced whole, and no temporary file stays.
  "$bloom" deploy systemd "$here/golden/deploy.toml" -o "$work/units" -q || fail "systemd -o"
  "$bloom" deploy systemd "$here/golden/deploy.toml" -o "$work/units" -q || fail "systemd -o again"
  [ "$(ls "$work/units" | tr '\n' ' ')" = "bloom-golden-store.service bloom-golden-tally_1.service " ] || fail "units: $(ls "$work/units")"
  # `import "std/NAME"` is left to the image's standard library: not in the ConfigMap.
  mkdir -p "$work/std" && cp "$repo/tests/run/std_import/prog.bloom" "$work/std/"
  printf 'insecure = true\n[node.a]\nprogram = "prog.bloom"\nendpoint = "tcp://127.0.0.1:7301"\n' > "$work/std/deploy.toml"
  "$bloom" deploy k8s "$work/std/deploy.toml" > "$work/std.yaml" || fail "a deployment with std imports"
  grep -q "^  prog.bloom: |" "$work/std.yaml" || fail "the program is not in the ConfigMap"
  ! grep -q "quorum.bloom: |" "$work/std.yaml" || fail "the standard library's quorum.bloom is in the ConfigMap"
  # The Kubernetes generator also in the sanitizer build (deploy_k8s_schema runs in release only).
  "$bloom" deploy k8s "$here/golden/deploy.toml" --show-secrets --image bloom:test > "$work/golden.yaml" || fail "bloom deploy k8s golden"
  diff -u "$here/golden/expected.k8s.yaml" "$work/golden.yaml" || fail "golden manifests differ (expected.k8s.yaml)"
  echo "ok: errors"
  ;;
systemd)
  "$bloom" deploy systemd "$here/golden/deploy.toml" --root /srv/bloom/golden > "$work/units.txt" || fail "bloom deploy systemd golden"
  diff -u "$here/golden/expected.systemd.txt" "$work/units.txt" || fail "golden units differ (expected.systemd.txt)"
  command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed (tools/install-deps.sh)"; exit 77; }
  # With this machine's paths, so that verify finds the executable; every example that can run
  # under systemd (insecure or with keys) and golden/.
  "$bloom" deploy systemd "$here/golden/deploy.toml" --bloom "$bloom" -o "$work/units" -q || fail "bloom deploy systemd -o"
  for u in "$work"/units/*.service; do
    # verify exits 0 on an unknown key too: any word from it is a failure.
    systemd-analyze verify "$u" > "$work/verify" 2>&1 || { cat "$work/verify" >&2; fail "systemd-analyze verify $u"; }
    [ ! -s "$work/verify" ] || { cat "$work/verify" >&2; fail "systemd-analyze verify $u had something to say"; }
  done
  grep -q '^ExecStart=.* node ".*/golden/store.bloom" --deployment ".*/golden/deploy.toml" --name "store" --data-dir "/var/lib/bloom-golden-store"$' \
    "$work/units/bloom-golden-store.service" || fail "store's ExecStart"
  echo "ok: systemd units"
  ;;
*) fail "unknown mode $mode" ;;
esac
