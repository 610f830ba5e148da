#!/usr/bin/env bash
# Builds the tcplife-otel image with podman and runs it in a pod with minimal
# capabilities. Prints PASS/FAIL lines; exits 1 if any check failed.
#   usage: test/container/run.sh            (as root)
# Needs: podman, runc, debootstrap (apt-get install podman runc debootstrap),
# and `default_ulimits = []` under [containers] in /etc/containers/containers.conf.
# Env: IMAGE (default localhost/tcplife-otel:test), BASE_IMAGE (default
# localhost/debian:bookworm, made with debootstrap when missing).
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
IMAGE=${IMAGE:-localhost/tcplife-otel:test}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm}
P=(podman --runtime runc --cgroup-manager=cgroupfs)
POD=tcplife-test-$$
WORK=$(mktemp -d /tmp/tcplife-container.XXXXXX)
failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
die()  { echo "FAIL: $*"; exit 1; }
secs() { echo $(( $(date +%s) - $1 ))s; }

cleanup() {
  timeout 30 "${P[@]}" pod rm -f -t 2 "$POD" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || die "run as root"
command -v podman >/dev/null && command -v runc >/dev/null || die "podman and runc are needed (apt-get install podman runc debootstrap)"
grep -qs '^ *default_ulimits *= *\[ *\]' /etc/containers/containers.conf \
  || die "/etc/containers/containers.conf needs 'default_ulimits = []' under [containers]"

# --- base image ---------------------------------------------------------------
if timeout 30 "${P[@]}" image exists "$BASE_IMAGE"; then
  pass "base image $BASE_IMAGE exists (reused)"
else
  [ "$BASE_IMAGE" = localhost/debian:bookworm ] || die "base image $BASE_IMAGE missing"
  command -v debootstrap >/dev/null || die "debootstrap is needed"
  t0=$(date +%s)
  timeout 900 debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || die "debootstrap failed: $(tail -3 "$WORK/debootstrap.log")"
  rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/*.bin "$WORK"/rootfs/var/cache/apt/archives/*.deb
  tar -C "$WORK/rootfs" -c . | timeout 300 "${P[@]}" import - "$BASE_IMAGE" >"$WORK/import.log" 2>&1 \
    || die "podman import failed: $(tail -3 "$WORK/import.log")"
  rm -rf "$WORK/rootfs"
  pass "base image $BASE_IMAGE built with debootstrap in $(secs "$t0")"
fi

# --- build --------------------------------------------------------------------
# Context: the repository's tracked and untracked-but-not-ignored files, plus
# the host's Node 20 in .node-dist/ (no registry serves node images here).
mkdir -p "$WORK/ctx"
git -C "$REPO" ls-files -co --exclude-standard -z | tar -C "$REPO" --null -T - -c | tar -C "$WORK/ctx" -x \
  || die "cannot copy the build context"
docker/stage-node.sh "$WORK/ctx" 2>/dev/null || die "docker/stage-node.sh failed"
secret=()
[ -s /etc/ssl/certs/ca-certificates.crt ] && secret=(--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
t0=$(date +%s)
if timeout 1500 "${P[@]}" build --runtime runc "${secret[@]}" --build-arg BASE_IMAGE="$BASE_IMAGE" \
     -f "$WORK/ctx/docker/Dockerfile" -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1; then
  size=$("${P[@]}" image inspect "$IMAGE" --format '{{.Size}}')
  pass "image $IMAGE built in $(secs "$t0"), runtime image $((size / 1000000)) MB"
else
  tail -20 "$WORK/build.log"; die "podman build failed (log above)"
fi

# Seccomp: the engine's default profile allows bpf() only with CAP_SYS_ADMIN;
# this one also allows it with CAP_BPF (and perf_event_open with CAP_PERFMON).
SECCOMP=$WORK/seccomp-bpf.json
if [ -r /usr/share/containers/seccomp.json ]; then
  docker/seccomp-bpf.py /usr/share/containers/seccomp.json >"$SECCOMP" || die "seccomp profile"
else
  cp docker/seccomp-bpf.json "$SECCOMP"
fi
MIN=(--cap-drop=all --cap-add=BPF,PERFMON --security-opt "seccomp=$SECCOMP" -e OTEL_TRACES_EXPORTER=console)

# --- negative: the default seccomp profile refuses bpf() without CAP_SYS_ADMIN --
out=$(timeout 30 "${P[@]}" run --rm --cap-drop=all --cap-add=BPF,PERFMON -e OTEL_TRACES_EXPORTER=console "$IMAGE" -j 2>&1 >/dev/null | head -1)
case $out in
  *"permission denied while loading"*) pass "default seccomp + CAP_BPF,CAP_PERFMON: refused as expected (needs the seccomp profile)";;
  *) echo "NOTE: default seccomp + CAP_BPF,CAP_PERFMON did not fail as expected: $out";;
esac

# --- pod: two agents (--netns own, --netns all) + a client container ----------
timeout 60 "${P[@]}" pod create --name "$POD" >/dev/null || die "podman pod create failed"
start_agent() { # name, netns
  timeout 120 "${P[@]}" run --rm --name "$POD-$1" --pod "$POD" "${MIN[@]}" "$IMAGE" -j --netns "$2" \
    >"$WORK/$1.out" 2>"$WORK/$1.err" &
}
start_agent own own
start_agent all all
for name in own all; do
  for _ in $(seq 60); do grep -q 'attached in' "$WORK/$name.err" 2>/dev/null && break; sleep 0.5; done
  if grep -q 'attached in' "$WORK/$name.err"; then pass "agent --netns $name started with only CAP_BPF,CAP_PERFMON: $(head -1 "$WORK/$name.err" | cut -c1-90)"
  else fail "agent --netns $name did not start: $(head -3 "$WORK/$name.err" 2>/dev/null)"; fi
done

# 3 loopback connections to 127.0.0.1:7777 inside the pod's network namespace.
cat >"$WORK/client.js" <<'JS'
const net = require('net');
const srv = net.createServer((c) => c.end('hi')).listen(7777, '127.0.0.1', () => {
  let done = 0;
  for (let i = 0; i < 3; i++) {
    const c = net.connect(7777, '127.0.0.1');
    c.resume();
    c.on('close', () => { if (++done === 3) srv.close(); });
  }
});
JS
timeout 60 "${P[@]}" run --rm --pod "$POD" -v "$WORK/client.js:/client.js:ro" --entrypoint node "$IMAGE" /client.js \
  || fail "client container failed"
# One loopback connection on the host (outside the pod); remember its port.
HOSTPORT=$(timeout 10 python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); p = s.getsockname()[1]
c = socket.create_connection(("127.0.0.1", p)); a, _ = s.accept(); c.close(); a.close(); print(p)')
sleep 1
for name in own all; do timeout 30 "${P[@]}" stop -t 10 "$POD-$name" >/dev/null 2>&1; done
wait

count() { # file, python condition on d -> number of matching JSON lines
  python3 -c 'import json,sys
n=0
for l in open(sys.argv[1]):
    try: d=json.loads(l)
    except ValueError: continue
    n+=bool(eval(sys.argv[2]))
print(n)' "$1" "$2"
}
POD_COND='d["lport"]==7777 or d["rport"]==7777'
HOST_COND="d['lport']==$HOSTPORT or d['rport']==$HOSTPORT"
for name in own all; do
  n=$(count "$WORK/$name.out" "$POD_COND")
  [ "$n" -eq 6 ] && pass "--netns $name: saw the pod's 3 loopback sessions (6 sockets: client+server)" \
                 || fail "--netns $name: expected 6 pod sessions on port 7777, saw $n"
done
n=$(count "$WORK/own.out" "$HOST_COND"); total=$(wc -l <"$WORK/own.out")
[ "$n" -eq 0 ] && [ "$total" -eq 6 ] && pass "--netns own: only the pod's sessions ($total), not the host's (port $HOSTPORT)" \
  || fail "--netns own: saw $n host sessions on port $HOSTPORT, $total sessions in all"
n=$(count "$WORK/all.out" "$HOST_COND")
[ "$n" -eq 2 ] && pass "--netns all (default): also sees the host's sessions (port $HOSTPORT): the whole machine" \
  || fail "--netns all: expected 2 host sessions on port $HOSTPORT, saw $n"
grep -q 'stopped (SIGTERM)' "$WORK/own.err" && pass "agent stopped cleanly on SIGTERM: $(grep -o 'sessions_seen=[0-9]* sessions_filtered=[0-9]*' "$WORK/own.err")" \
  || fail "agent did not report a clean stop: $(tail -2 "$WORK/own.err")"

[ "$failed" -eq 0 ] && echo "container test: all checks passed" || echo "container test: some checks FAILED"
exit "$failed"
