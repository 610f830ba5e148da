#!/usr/bin/env bash
# npm run test:container: builds the tcplife-otel image from docker/Dockerfile
# with podman, then runs test/container/*.test.ts against it (the agent as a
# sidecar in a pod, a real OTLP receiver). Output ends "N passed, N failed".
#   usage: test/container/run.sh            (as root)
# Installs podman, runc and debootstrap when missing. No registry is needed:
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
missing=()
for pkg in podman runc debootstrap; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/setup # the test code (dist/) and its dependencies

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
mkdir -p "$WORK/ctx"
git ls-files -co --exclude-standard -z | tar --null -T - -c | tar -C "$WORK/ctx" -x
docker/stage-node.sh "$WORK/ctx"
secret=()
# This machine's egress re-signs TLS: npm in the build needs the system CAs.
[ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
t0=$(date +%s)
if ! timeout 1500 "${P[@]}" build "${secret[@]}" --build-arg BASE_IMAGE="$BASE_IMAGE" \
     -f "$WORK/ctx/docker/Dockerfile" -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1; then
  tail -30 "$WORK/build.log"; say "podman build failed (log above)"; exit 1
fi
size=$("${P[@]}" image inspect "$IMAGE" --format '{{.Size}}')
say "image $IMAGE built in $(secs "$t0"): $((size / 1000000)) MB"

# The seccomp profile: podman's own default with bpf() allowed for CAP_BPF.
export SECCOMP=$WORK/seccomp-bpf.json
if [ -r /usr/share/containers/seccomp.json ]; then
  docker/seccomp-bpf.py /usr/share/containers/seccomp.json >"$SECCOMP"
else
  cp docker/seccomp-bpf.json "$SECCOMP"
fi

node node_modules/mocha/bin/mocha.js --no-config --reporter test/support/summary-reporter.js --timeout 180000 \
  'dist/test/container/**/*.test.js'
