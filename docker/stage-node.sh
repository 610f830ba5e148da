#!/usr/bin/env bash
# Fills CONTEXT/.node-dist/ for docker/Dockerfile, which copies
#   .node-dist/build/   over / in the build stage   (node, npm, headers)
#   .node-dist/runtime/ over / in the runtime stage (node only)
# from this machine's Node (20 or later): what test/container/run.sh uses, where no registry serves
# node:20 images and nodejs.org/NodeSource are not reachable. Works for /usr
# (NodeSource), /usr/local (tarball) and nvm layouts: the prefix is the
# directory above the real binary's bin/.
# With --empty both hold only their placeholders (as in the repository): for
# a base image that has Node already (the default, node:22-bookworm-slim).
#   usage: docker/stage-node.sh [--empty] CONTEXT_DIR
set -euo pipefail
empty=0; [ "${1:-}" = --empty ] && { empty=1; shift; }
ctx=${1:?usage: stage-node.sh [--empty] CONTEXT_DIR}
rm -rf "$ctx/.node-dist"
# The Dockerfile copies both directories: each keeps a placeholder file.
for d in build runtime; do
  mkdir -p "$ctx/.node-dist/$d"
  echo "Node for images whose base has none; filled by docker/stage-node.sh" >"$ctx/.node-dist/$d/.keep"
done
[ "$empty" = 1 ] && exit 0
node_bin=$(readlink -f "$(command -v node)")
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "stage-node: $node_bin is Node $major, need 20+" >&2; exit 1; }
prefix=$(dirname "$(dirname "$node_bin")")
for need in lib/node_modules/npm include/node/node_api.h; do
  [ -e "$prefix/$need" ] || { echo "stage-node: missing $prefix/$need" >&2; exit 1; }
done
out="$ctx/.node-dist/build/usr"
mkdir -p "$out/bin" "$out/lib/node_modules" "$out/include" "$ctx/.node-dist/runtime/usr/bin"
cp "$node_bin" "$out/bin/node"
cp -a "$prefix/lib/node_modules/npm" "$out/lib/node_modules/"
cp -a "$prefix/include/node" "$out/include/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$out/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$out/bin/npx"
cp "$node_bin" "$ctx/.node-dist/runtime/usr/bin/node"
# Distribution builds of node may carry debug info (99 -> 86 MB here).
command -v strip >/dev/null && strip --strip-unneeded "$ctx/.node-dist/runtime/usr/bin/node"
echo "stage-node: Node $("$node_bin" -v) from $prefix -> $ctx/.node-dist" >&2
