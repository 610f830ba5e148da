#!/usr/bin/env bash
# npm run test:container: the container tests alone (scripts/test runs them
# with everything else). Builds the image when needed, then runs
# test/container/*.test.ts. Output ends "N passed, N failed".
#   usage: test/container/run.sh            (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup --for-tests
test/container/build-image.sh
exec node node_modules/mocha/bin/mocha.js --no-config --reporter test/support/summary-reporter.js --timeout 180000 \
  'dist/test/container/**/*.test.js'
