#!/bin/sh
# Removes from a production node_modules what Node never loads at run time:
# type declarations, source maps, docs (license texts stay), and the
# ES-module and esnext copies
# that @opentelemetry packages ship beside their CommonJS build (the agent is
# CommonJS: require() resolves build/src). Halves node_modules in the image.
#   usage: docker/prune-node-modules.sh NODE_MODULES_DIR
set -eu
dir=${1:?usage: prune-node-modules.sh NODE_MODULES_DIR}
before=$(du -sk "$dir" | cut -f1)
find "$dir" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
  -o \( -iname '*.md' ! -iname 'LICEN[CS]E*' ! -iname 'NOTICE*' \) \) -delete
find "$dir" -type d \( -path '*/@opentelemetry/*/build/esm' -o -path '*/@opentelemetry/*/build/esnext' \) -prune -exec rm -rf {} +
echo "prune-node-modules: ${before} KiB -> $(du -sk "$dir" | cut -f1) KiB" >&2
