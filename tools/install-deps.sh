#!/usr/bin/env bash
# Installs every Debian package bloom needs to build and test (Debian 12, run as root).
# Kept as the one place that lists dependencies: README and .ci/run both call it.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config python3 git
  ccache                                                       # tools/test.sh: objects reused across runs
  clang-format-14                                              # tools/format.sh: the C++ layout (CI checks it)
  default-jre-headless antlr4 libantlr4-runtime-dev uuid-dev   # grammar -> parser, and its runtime
  llvm-16-dev libzstd-dev zlib1g-dev libncurses-dev            # JIT (runtime/jit): LLVM's static libraries and theirs
  libzmq3-dev cppzmq-dev                                       # runtime/net
  libgtest-dev libgmock-dev                                    # tests
  libcli11-dev libfmt-dev nlohmann-json3-dev libtomlplusplus-dev
  libabsl-dev                                                  # hash tables (runtime/storage)
  libedit-dev                                                  # line editing of `bloom repl`
  graphviz                                                     # tests render `bloom plan --format dot`
  chromium                                                     # tests open `bloom sim --timeline` pages
  systemd                                                      # tests verify `bloom deploy systemd` units
  libtree-sitter-dev                                           # tests/tree-sitter: the runtime the generated parser links
)
# tests/deploy validates `bloom deploy k8s` manifests with an npm package, and tests/editors
# packages and checks the VS Code extension with npm packages. A Node.js from
# elsewhere (NodeSource) brings its own npm and conflicts with Debian's: take Debian's only if
# there is none.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
