#!/usr/bin/env bash
# Builds the image test/container/*.test.ts runs (localhost/tcplife-otel:test)
# from docker/Dockerfile with podman, when missing or when the repository's
# files changed since (a label on the image holds their hash): quick when
# nothing changed. scripts/test and test/container/run.sh call it.
#   usage: test/container/build-image.sh     (as root)
# Needs podman, runc, debootstrap and catatonit (scripts/setup --for-tests). No registry is needed:
# the base is a slim Debian bookworm made with debootstrap, and Node is this
# machine's, copied in by docker/stage-node.sh.
# Env: IMAGE (default localhost/tcplife-otel:test), BASE_IMAGE (default
# localhost/debian:bookworm-slim, made when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
export IMAGE=${IMAGE:-localhost/tcplife-otel:test}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm-slim}
# This machine's podman needs its ulimit defaults off; a config of our own
# says so without touching /etc (see ../shared/docs/machine.md).
export CONTAINERS_CONF=$REPO/test/container/containers.conf
P=(podman --runtime runc --cgroup-manager=cgroupfs)
WORK=$(mktemp -d /tmp/tcplife-container.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
say() { echo "test:container: $*" >&2; }
secs() { echo $(( $(date +%s) - $1 ))s; }

[ "$(id -u)" -eq 0 ] || { say "run as root"; exit 1; }
for cmd in podman runc debootstrap catatonit; do
  command -v "$cmd" >/dev/null || { say "$cmd is missing: scripts/setup --for-tests installs it"; exit 1; }
done

# --- base image: debootstrap, slimmed as the official -slim images are ---------
if ! timeout 30 "${P[@]}" image exists "$BASE_IMAGE"; then
  [ "$BASE_IMAGE" = localhost/debian:bookworm-slim ] || { say "base image $BASE_IMAGE missing"; exit 1; }
  t0=$(date +%s)
  rootfs=$WORK/rootfs
  timeout 900 debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { tail -5 "$WORK/debootstrap.log"; say "debootstrap failed"; exit 1; }
  # No docs, man pages or translations, now or from later apt-get installs.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*
  tar -C "$rootfs" -c . | timeout 300 "${P[@]}" import - "$BASE_IMAGE" >"$WORK/import.log" 2>&1 \
    || { tail -5 "$WORK/import.log"; say "podman import failed"; exit 1; }
  rm -rf "$rootfs"
  say "base image $BASE_IMAGE made with debootstrap in $(secs "$t0")"
fi

# --- the image ------------------------------------------------------------------
# Context: tracked and untracked-but-not-ignored files, plus this machine's Node.
files() { git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done; }
context=$( { files | xargs -0 sha256sum; node -v; echo "$BASE_IMAGE"; } | sha256sum | cut -c1-16)
built=$(timeout 30 "${P[@]}" image inspect "$IMAGE" --format '{{index .Labels "tcplife-otel.context"}}' 2>/dev/null || true)
if [ "$built" = "$context" ]; then
  say "image $IMAGE is up to date (context $context)"
  exit 0
fi
mkdir -p "$WORK/ctx"
files | tar --null -T - -c | tar -C "$WORK/ctx" -x
docker/stage-node.sh "$WORK/ctx"
secret=()
# This machine's egress re-signs TLS: npm in the build needs the system CAs.
[ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
t0=$(date +%s)
if ! timeout 1500 "${P[@]}" build "${secret[@]}" --build-arg BASE_IMAGE="$BASE_IMAGE" --label tcplife-otel.context="$context" \
     -f "$WORK/ctx/docker/Dockerfile" -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1; then
  tail -30 "$WORK/build.log"; say "podman build failed (log above)"; exit 1
fi
size=$("${P[@]}" image inspect "$IMAGE" --format '{{.Size}}')
say "image $IMAGE built in $(secs "$t0"): $((size / 1000000)) MB"
