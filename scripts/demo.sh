#!/usr/bin/env bash
# The main job on a fresh machine: install everything, then build and run
# the sample project in fixtures/ with tsbuild.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
node dist/fixtures/base-images/load-busybox.js busybox:latest
node bin/tsbuild.js build --progress=plain -t hello:v1 fixtures/projects/hello
node bin/tsbuild.js images
node bin/tsbuild.js history hello:v1
node bin/tsbuild.js run --rm hello:v1
