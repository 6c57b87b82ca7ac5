#!/usr/bin/env bash
# Builds bloom and runs every test: the release build's ctest suite (unit, golden, conformance),
# then the unit tests and a fuzz smoke run under AddressSanitizer + UBSan, then the tests of
# threaded code (ctest label `threads`: in-process deployments, CURVE's authentication thread,
# the tiered JIT's loader and compile threads) under ThreadSanitizer.
# This is the README's test command and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

./tools/install-deps.sh
# The JIT's code cache (docs/jit.md) inside the tree, not in the user's cache folder.
export BLOOM_JIT_CACHE="$PWD/build/jit-cache"
# ccache keeps the compiled objects of both builds between runs on this machine, whichever clone
# they come from (paths under the clone are hashed relative to it): a second run compiles only
# what changed. A new machine starts with an empty cache and compiles everything.
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER= -DCMAKE_C_COMPILER_LAUNCHER=)
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLOOM_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBLOOM_SANITIZE=ON -DBLOOM_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build-asan -j "$jobs"
# BLOOM_TEST_QUICK: the property tests (simulated schedules, random programs, plan formats) run a
# twentieth to a half of their cases here, and the planted-bug runs of the stdlib simulations
# (which test Bloom modules, not the C++ the sanitizers watch) are skipped; the release suite
# above ran them all. For the same reason this tree does not register the simulations of the
# stdlib modules and bigger examples under faults (tests/sim/CMakeLists.txt).
BLOOM_TEST_QUICK=1 ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== ThreadSanitizer build (the tests of threaded code)"
# Only what the tests labelled `threads` need (bloom with its JIT module, and send_raw for
# tests/dist), and only those tests: in-process deployments, CURVE, the tiered JIT. The code that
# runs on several threads is compiled with TSan; the rest keeps the release tree's flags, so
# ccache gives back the objects of the release build above (top-level CMakeLists.txt,
# BLOOM_TSAN). A race fails its test: the first report stops the process with exit 66.
# tests/tsan.supp names the uninstrumented libraries (libzmq, libsodium) whose hand-over of
# message buffers between threads TSan cannot see, and why.
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLOOM_TSAN=ON -DBLOOM_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build-tsan -j "$jobs" --target bloom send_raw
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L threads
