#!/usr/bin/env bash
# Boots one of Debian bookworm's own kernels under qemu and runs COMMAND in it,
# as root, in a guest whose root filesystem is this machine's / (read-only).
#   usage: test/kernels/boot-kernel.sh KERNEL OUTDIR -- COMMAND [ARGS...]
#     KERNEL   6.1 (linux-image-6.1.0-50-amd64) or 6.12 (linux-image-6.12.100+deb12-amd64)
#     OUTDIR   host directory the guest can write, at the same path in the guest;
#              gets console.log (COMMAND's output, also on stdout), kernel.log
#              (the guest kernel's console), exit-status, and whatever COMMAND
#              leaves there
#   COMMAND runs as root, in the caller's directory, with stdin /dev/null.
#   Exits with COMMAND's status; 124 if the guest timed out, 125 if it ended
#   without reporting one (crash: see OUTDIR/kernel.log), 2 for bad usage.
#   Environment:
#     BOOT_KERNEL_TIMEOUT   seconds for the whole boot-and-run (default 600)
#     BOOT_KERNEL_ENV       space-separated variable names passed to COMMAND
#                           (PATH is always passed, HOME is /root)
#     TCPLIFE_KERNEL_CACHE  where kernels are kept (default /var/cache/tcplife-otel/kernels)
#
# Why it is built this way:
# - Debian's kernels, not the host's: the agent must work on the kernels users run.
# - qemu with TCG: this machine has no usable KVM (it hangs), so software emulation.
# - The host's / over 9p: node, python3, ip, nft and the built project are all there already.
# - Read-only root: a test in the guest cannot damage the host.
# - OUTDIR over a second, writable 9p share: the way results and the exit status come back.
# - The exit status travels in a file: qemu's own exit code says nothing about the guest.
# - Kernels and initramfs are cached once per machine: later runs need no network.
# - A cache is renamed into place when complete: an interrupted download leaves nothing half-done.
# - The kernel is unpacked from its bzImage once: decompressing it under TCG takes seconds a boot.
# - The initramfs is busybox: Debian's kernels build 9p and (6.1) virtio as modules.
# - 6.12's modules are decompressed on the host: busybox insmod may not read .ko.xz.
# - The host's / is mounted cache=loose: node starts 3x faster (a file changed mid-run may look stale).
# - switch_root (not chroot): the kernel's module autoloading then sees the host's root too.
# - Guest modules load with `modprobe -d` from the cache: the host's /lib/modules is for another kernel.
# - No NIC (-nic none): the guest reaches nothing but itself.
# - timeout and a trap kill qemu: a hung guest never hangs the caller.
set -euo pipefail

readonly KERNELS=(6.1 6.12)
readonly CACHE_ROOT=${TCPLIFE_KERNEL_CACHE:-/var/cache/tcplife-otel/kernels}
readonly TIMEOUT=${BOOT_KERNEL_TIMEOUT:-600}
# Modules loaded in the guest before COMMAND (those that exist); anything else
# the guest's kernel asks for (nft expressions, ...) is loaded on demand.
readonly GUEST_MODULES='veth nf_tables nf_conntrack nf_nat nft_chain_nat nft_nat nft_masq nft_numgen'
# Modules the initramfs needs to mount 9p (with their dependencies, in order).
readonly INITRAMFS_MODULES='virtio_pci 9pnet_virtio 9p'
readonly NINEP_OPTS='trans=virtio,version=9p2000.L,msize=262144'
# Part of every cache's "package" file: bump it when the cache's layout or the
# initramfs changes, so existing caches are rebuilt.
readonly CACHE_FORMAT=2

kdir=''      # the cache directory of KERNEL, set by ensure_kernel
build_dir='' # a cache being built, removed if the script ends before it is complete
qemu_pid=''  # timeout's pid (qemu is its child), killed if the script ends early

usage() { # the header comment, down to its first empty line
  sed -n '2,/^#$/{/^#$/d;s/^# \{0,1\}//;p}' "$0"
}

die() { # die STATUS MESSAGE...
  local status=$1
  shift
  echo "boot-kernel: $*" >&2
  exit "$status"
}

usage_error() {
  echo "boot-kernel: $*" >&2
  echo "usage: $0 KERNEL OUTDIR -- COMMAND [ARGS...]   (KERNEL: ${KERNELS[*]}; --help for more)" >&2
  exit 2
}

# The Debian package of KERNEL. (Both ABI numbers are what bookworm's archive
# offers as of writing: 6.1.0-50 is 6.1.176-1, 6.12.100+deb12 is 6.12.100-1~deb12u1.)
package_for() {
  case $1 in
    6.1) echo linux-image-6.1.0-50-amd64 ;;
    6.12) echo linux-image-6.12.100+deb12-amd64 ;;
    *) return 1 ;;
  esac
}

# Quotes $1 for any POSIX shell (busybox sh reads what this writes).
shq() {
  printf "'%s'" "${1//\'/\'\\\'\'}"
}

# Doubles commas, as qemu's option syntax needs within a value.
qemu_escape() {
  printf '%s' "${1//,/,,}"
}

cleanup() {
  if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [[ -n $build_dir ]]; then rm -rf "$build_dir" "$build_dir.old"; fi
}

# ---------------------------------------------------------------- cache --

# True when DIR is a complete cache of package PKG.
cache_ok() {
  [[ -f $1/package && $(<"$1/package") == "$2 format $CACHE_FORMAT" && -f $1/initramfs.gz && -f $1/kernel ]]
}

# Sets kdir to the cache directory of KERNEL, building it first if needed.
ensure_kernel() {
  local kernel=$1 pkg final lock
  pkg=$(package_for "$kernel")
  mkdir -p "$CACHE_ROOT" || die 1 "cannot create the kernel cache $CACHE_ROOT"
  final=$(cd "$CACHE_ROOT" && pwd -P)/$kernel
  kdir=$final
  if cache_ok "$final" "$pkg"; then return; fi
  exec {lock}>"$CACHE_ROOT/.$kernel.lock"
  flock "$lock" # another run may be building the same kernel: wait for it
  if ! cache_ok "$final" "$pkg"; then
    rm -rf "$CACHE_ROOT/.$kernel.build."* # left by a run that was killed
    build_dir=$(mktemp -d "$CACHE_ROOT/.$kernel.build.XXXXXX")
    build_cache "$build_dir" "$pkg"
    chmod 755 "$build_dir"
    if [[ -e $final ]]; then mv -T "$final" "$build_dir.old"; fi # a cache of another package
    mv -T "$build_dir" "$final"
    rm -rf "$build_dir.old"
    build_dir=''
  fi
  exec {lock}>&-
}

# Downloads and extracts PKG into DIR, with an initramfs; writes DIR/package last.
build_cache() {
  local dir=$1 pkg=$2 deb release
  echo "boot-kernel: fetching $pkg into $CACHE_ROOT (once per machine)" >&2
  # An old or missing package list is the usual reason to fail: refresh it once.
  (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >&2 ||
    { apt-get update -qq >&2 && (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >&2; } ||
    die 1 "could not download $pkg from Debian's archive (is the network up? has the archive dropped this version?)"
  deb=$(compgen -G "$dir/*.deb" | head -n 1) || die 1 "apt-get download left no .deb for $pkg"
  dpkg-deb -x "$deb" "$dir/root"
  dpkg-deb -f "$deb" Version >"$dir/version"
  rm -f "$deb"
  release=$(ls "$dir/root/lib/modules")
  [[ $release != *$'\n'* && -f $dir/root/boot/vmlinuz-$release ]] ||
    die 1 "unexpected contents in $pkg (kernel releases: $release)"
  echo "$release" >"$dir/release"
  write_boot_kernel "$dir" "root/boot/vmlinuz-$release"
  depmod -b "$dir/root" "$release"
  build_initramfs "$dir" "$release"
  echo "$pkg format $CACHE_FORMAT" >"$dir/package"
}

# Makes DIR/kernel, what qemu boots: the uncompressed kernel (an ELF, which
# qemu starts at its PVH entry) taken out of the bzImage BZIMAGE (relative to
# DIR), or the bzImage itself when its payload's format cannot be unpacked here.
write_boot_kernel() {
  local dir=$1 bzimage=$1/$2 setup_sects offset length start magic
  setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bzimage")
  offset=$(od -An -tu4 -j $((0x248)) -N4 "$bzimage") # payload_offset
  length=$(od -An -tu4 -j $((0x24c)) -N4 "$bzimage") # payload_length (ends with a 4-byte size)
  start=$(((setup_sects + 1) * 512 + offset))
  magic=$(od -An -tx1 -j "$start" -N4 "$bzimage" | tr -d ' ')
  if dd if="$bzimage" iflag=skip_bytes,count_bytes skip="$start" count=$((length - 4)) status=none |
    unpack_payload "$magic" >"$dir/vmlinux" 2>/dev/null &&
    [[ $(head -c 4 "$dir/vmlinux") == $'\x7fELF' ]]; then
    ln -s vmlinux "$dir/kernel"
  else
    echo "boot-kernel: could not unpack the kernel (payload magic $magic; is zstd installed?): booting the bzImage, which is slower" >&2
    rm -f "$dir/vmlinux"
    ln -s "$2" "$dir/kernel"
  fi
}

unpack_payload() { # unpack_payload MAGIC: decompresses stdin
  case $1 in
    fd377a58) xz -dc --single-stream ;;
    28b52ffd) zstd -qdc ;;
    1f8b08*) gzip -dc ;;
    *) return 1 ;;
  esac
}

# The module files the initramfs must insmod, dependencies first.
initramfs_module_files() {
  local root=$1 release=$2 module
  for module in $INITRAMFS_MODULES; do
    modprobe -d "$root" -S "$release" --show-depends "$module" ||
      die 1 "kernel $release has no module $module"
  done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# Writes DIR/initramfs.gz: busybox, the 9p modules (uncompressed) and /init.
build_initramfs() {
  local dir=$1 release=$2 stage=$1/initramfs n=0 files file name
  files=$(initramfs_module_files "$dir/root" "$release")
  mkdir -p "$stage"/{bin,dev,proc,sys,newroot,out,modules}
  cp /bin/busybox "$stage/bin/busybox"
  while read -r file; do
    [[ -n $file ]] || continue # every module built in: nothing to load
    n=$((n + 1))
    name=$(printf '%02d-%s' "$n" "$(basename "$file")")
    case $file in
      *.ko.xz) xz -dc "$file" >"$stage/modules/${name%.xz}" ;;
      *.ko.zst) zstd -qdc "$file" >"$stage/modules/${name%.zst}" ;;
      *) cp "$file" "$stage/modules/$name" ;;
    esac
  done <<<"$files"
  write_init >"$stage/init"
  chmod 755 "$stage/init"
  (cd "$stage" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -9 >"$dir/initramfs.gz"
  rm -rf "$stage"
}

# The initramfs's /init: mounts the host's / and the shares, then hands over
# to OUTDIR/.boot-kernel/guest.sh, run by the host's /bin/sh as pid 1.
write_init() {
  cat <<EOF
#!/bin/busybox sh
NINEP_OPTS=$NINEP_OPTS
EOF
  cat <<'EOF'
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() {
  echo "boot-kernel: guest: $*"
  poweroff -f
}
for m in /modules/*.ko; do insmod "$m" || fail "insmod $m failed"; done
mount -t 9p -o "$NINEP_OPTS" out /out || fail "cannot mount OUTDIR"
. /out/.boot-kernel/paths || fail "no /out/.boot-kernel/paths"
r=/newroot
mount -t 9p -o "$NINEP_OPTS,ro,cache=loose" host $r || fail "cannot mount the host's /"
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount --move /dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $r/tmp
mount -t tmpfs -o mode=755 tmpfs $r/run
mount -t tmpfs -o mode=1777 tmpfs $r/var/tmp
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup
mount -t bpf bpf $r/sys/fs/bpf
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
if [ -n "$BK_CWD_SHARE" ]; then # the caller's directory under the guest's own /tmp, /run or /var/tmp
  mkdir -p "$r$BK_CWD_SHARE" && mount -t 9p -o "$NINEP_OPTS,ro,cache=loose" cwd "$r$BK_CWD_SHARE" ||
    fail "cannot mount the caller's directory at $BK_CWD_SHARE"
fi
mkdir -p "$r$BK_OUT" && mount --move /out "$r$BK_OUT" || fail "cannot mount OUTDIR at $BK_OUT"
mkdir -p "$r$BK_KERNEL" && mount -t 9p -o "$NINEP_OPTS,ro" kernel "$r$BK_KERNEL" ||
  fail "cannot mount the kernel cache at $BK_KERNEL"
exec switch_root $r /usr/bin/env -i /bin/sh "$BK_OUT/.boot-kernel/guest.sh"
fail "switch_root failed"
EOF
}

# ---------------------------------------------------------------- guest --

# Writes OUTDIR/.boot-kernel/: paths (read by /init), guest.sh (pid 1 after
# switch_root: runs COMMAND, writes OUTDIR/exit-status, powers off) and the
# modprobe the guest's kernel calls to load modules on demand.
write_guest_files() {
  local out=$1 kdir=$2
  shift 2
  local dir=$out/.boot-kernel name arg modprobe
  modprobe=$(PATH=$PATH:/usr/sbin:/sbin command -v modprobe) ||
    die 1 "modprobe not found: scripts/setup --for-tests installs kmod"
  rm -rf "$dir"
  mkdir -p "$dir"
  printf 'BK_OUT=%s\nBK_KERNEL=%s\nBK_CWD_SHARE=%s\n' "$(shq "$out")" "$(shq "$kdir")" "$(shq "$cwd_share")" >"$dir/paths"
  printf '#!/bin/sh\nexec %s -d %s "$@"\n' "$(shq "$modprobe")" "$(shq "$kdir/root")" >"$dir/modprobe"
  chmod 755 "$dir/modprobe"
  {
    echo '#!/bin/sh'
    echo '# Written by test/kernels/boot-kernel.sh for one run.'
    printf 'BK_OUT=%s\nBK_CWD=%s\n' "$(shq "$out")" "$(shq "$PWD")"
    printf 'export PATH=%s HOME=/root\n' "$(shq "$PATH")"
    for name in ${BOOT_KERNEL_ENV:-}; do
      if [[ -v $name ]]; then printf 'export %s=%s\n' "$name" "$(shq "${!name}")"; fi
    done
    printf 'set --'
    for arg in "$@"; do printf ' %s' "$(shq "$arg")"; done
    echo
    guest_script_body
  } >"$dir/guest.sh"
}

guest_script_body() {
  cat <<EOF
GUEST_MODULES='$GUEST_MODULES'
EOF
  cat <<'EOF'
finish() {
  echo "$1" >"$BK_OUT/exit-status"
  sync
  /bin/busybox poweroff -f
  echo o >/proc/sysrq-trigger
}
echo "$BK_OUT/.boot-kernel/modprobe" >/proc/sys/kernel/modprobe
"$BK_OUT/.boot-kernel/modprobe" -a -q $GUEST_MODULES # one run: a second a module under TCG otherwise
ip link set lo up
stty -onlcr </dev/ttyS1 # no CR before every LF: console.log reads as COMMAND wrote it
exec >/dev/ttyS1 2>&1
cd "$BK_CWD" || {
  echo "boot-kernel: guest: cannot cd to $BK_CWD" >&2
  finish 126
}
: >"$BK_OUT/.boot-kernel/started"
"$@" </dev/null
finish $?
EOF
}

# -------------------------------------------------------------- running --

# Sets cwd_share when the caller's directory would be hidden in the guest
# (its /tmp, /run and /var/tmp are its own tmpfs): it is then shared as a
# third 9p mount, read-only, at the same path. /dev, /proc and /sys cannot be.
cwd_share=''
check_cwd_visible() {
  local out=$1
  case $PWD/ in
    "$out"/*) return ;;
    /tmp/* | /run/* | /var/tmp/*) cwd_share=$PWD ;;
    /dev/* | /proc/* | /sys/*) usage_error "the current directory $PWD is not visible in the guest; run from elsewhere" ;;
  esac
}

# Runs the guest: the kernel's console (ttyS0) goes to OUTDIR/kernel.log,
# COMMAND's output (ttyS1) to stdout and OUTDIR/console.log. qboot (from
# qemu-system-data) starts the kernel at once and prints nothing, unlike
# SeaBIOS. Returns timeout's status.
run_qemu() {
  local kdir=$1 out=$2 status=0
  timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
    -accel tcg -cpu max -smp 2 -m 3072 \
    -bios qboot.rom -nographic -monitor none -no-reboot -nic none \
    -chardev "file,id=kernel,path=$(qemu_escape "$out/kernel.log")" -serial chardev:kernel \
    -chardev "stdio,id=command,logfile=$(qemu_escape "$out/console.log")" -serial chardev:command \
    -kernel "$kdir/kernel" -initrd "$kdir/initramfs.gz" \
    -append 'console=ttyS0 panic=-1 quiet' \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$(qemu_escape "$out"),mount_tag=out,security_model=none" \
    -virtfs "local,path=$(qemu_escape "$kdir"),mount_tag=kernel,security_model=none,readonly=on" \
    ${cwd_share:+-virtfs "local,path=$(qemu_escape "$cwd_share"),mount_tag=cwd,security_model=none,readonly=on"} \
    </dev/null &
  qemu_pid=$!
  wait "$qemu_pid" || status=$?
  qemu_pid=''
  return "$status"
}

# Exits with the status the guest left in OUTDIR/exit-status.
exit_with_guest_status() {
  local out=$1 qemu_status=$2 status
  if [[ ! -f $out/exit-status ]]; then
    if [[ -s $out/kernel.log ]]; then
      echo "boot-kernel: the end of the guest kernel's console ($out/kernel.log):" >&2
      tail -n 30 "$out/kernel.log" >&2
    fi
    if [[ $qemu_status == 124 ]]; then
      die 124 "the guest timed out after ${TIMEOUT}s (BOOT_KERNEL_TIMEOUT); see $out/kernel.log"
    fi
    die 125 "the guest ended without reporting an exit status (qemu status $qemu_status); see $out/kernel.log"
  fi
  status=$(<"$out/exit-status")
  [[ $status =~ ^[0-9]+$ ]] || die 125 "unreadable exit status '$status' in $out/exit-status"
  exit "$status"
}

main() {
  local kernel out name qemu_status=0 attempt
  case ${1:-} in
    -h | --help) usage && exit 0 ;;
  esac
  [[ $# -ge 4 && $3 == -- ]] || usage_error "expected KERNEL OUTDIR -- COMMAND [ARGS...]"
  kernel=$1
  package_for "$kernel" >/dev/null || usage_error "unknown KERNEL '$kernel' (allowed: ${KERNELS[*]})"
  [[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -gt 0 ]] || usage_error "BOOT_KERNEL_TIMEOUT must be a number of seconds, not '$TIMEOUT'"
  for name in ${BOOT_KERNEL_ENV:-}; do
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || usage_error "BOOT_KERNEL_ENV: '$name' is not a variable name"
  done
  mkdir -p "$2" || usage_error "cannot create OUTDIR $2"
  out=$(cd "$2" && pwd -P)
  shift 3
  check_cwd_visible "$out"

  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  ensure_kernel "$kernel"
  for attempt in 1 2; do
    rm -f "$out/exit-status" "$out/console.log" "$out/kernel.log"
    write_guest_files "$out" "$kdir" "$@"
    qemu_status=0
    run_qemu "$kdir" "$out" || qemu_status=$?
    # Under emulation a guest kernel has been seen to panic while booting,
    # before COMMAND started (rarely): that is the harness failing, not
    # COMMAND, so it gets one more boot, said on stderr.
    # (No kernel.log at all: qemu itself did not start; another try would not help.)
    [[ -f $out/exit-status || -f $out/.boot-kernel/started || $qemu_status == 124 || $attempt == 2 || ! -s $out/kernel.log ]] && break
    echo "boot-kernel: the guest kernel died before COMMAND started; booting once more. Its console ended:" >&2
    grep -m5 -E 'BUG|RIP:|panic|Oops' "$out/kernel.log" >&2 || tail -n 5 "$out/kernel.log" >&2 || true
  done
  exit_with_guest_status "$out" "$qemu_status"
}

main "$@"
