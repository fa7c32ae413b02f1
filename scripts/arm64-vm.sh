#!/bin/bash
# arm64-vm.sh: runs a command inside a real arm64 Linux kernel booted in
# qemu-system-aarch64 (software emulation, no KVM), and exits with its status.
#
# Usage:
#   scripts/arm64-vm.sh setup
#       Idempotent (does only what is not done yet): installs the host
#       packages (qemu, the aarch64 cross compilers, the arm64 -dev libraries
#       through multiarch) and builds under build/arm64/:
#         vmlinuz           Debian's arm64 kernel (linux-image-6.1.0-*-arm64)
#         rootfs.cpio       the arm64 userland, one initramfs archive
#                           (uncompressed: gzip would add 3.5 s to each boot)
#         rootfs.pkgs       the package list rootfs.cpio was built from
#         sysroot/          libjemalloc-dev:arm64 (see "Cross builds" below)
#   scripts/arm64-vm.sh run [--cpu MODEL] [--smp N] [--mem MB] [--timeout SEC]
#                           DIR -- COMMAND [ARGS...]
#       Boots the VM (defaults: cortex-a57, 2 CPUs, 2048 MB, 1800 s) with a
#       copy of the host directory DIR at the same absolute path (symlinks in
#       DIR's own path resolved), runs COMMAND [ARGS...] there as root through
#       bash (stdin /dev/null), streams its stdout+stderr to our stdout, and
#       exits with its status: 124 on time-out, 125 if the VM failed to run
#       it. MODEL is any qemu -cpu model; `max` (pointer authentication, BTI,
#       SVE, MTE off) gets pauth-impdef=on, the same PAC semantics with a
#       cheap hash, as TCG's QARMA emulation is several times slower.
#       ARM64_VM_DEBUG=1 shows the kernel log and traces the VM's /init.
#
# How: the rootfs is made without running arm64 code on the host. apt, with
# arm64 as its native architecture, an empty dpkg status, and the host's own
# sources and package lists (so: the same mirror and the same versions as
# the :arm64 libraries installed for linking), downloads the packages and
# their dependencies; dpkg-deb unpacks them onto a merged-/usr tree, which
# gets what maintainer scripts would have made (passwd, /bin/sh, awk, ...)
# and becomes one cpio. Every run appends a second, uncompressed cpio: the
# /init (scripts/arm64/init), the command, and DIR. The console is the
# virt machine's PL011 on our stdio; the kernel prints nothing (quiet
# loglevel=0), and /init ends with a line "@@LT-VM-EXIT <nonce> <status>@@"
# that is stripped here and becomes our exit status; then it powers off.
#
# Cross builds (on this host, after setup): aarch64-linux-gnu-gcc and -g++
# find the arm64 headers (/usr/include/aarch64-linux-gnu) and libraries
# (/usr/lib/aarch64-linux-gnu) of libunwind, capstone, libelf, libdw,
# readline, zlib, tcmalloc and mimalloc by themselves, e.g.
#   aarch64-linux-gnu-gcc -O2 -o x x.c -lunwind-ptrace -lunwind-generic \
#       -lunwind -ldw -lelf -lcapstone -lreadline -lz -lm
# libjemalloc-dev:arm64 cannot be installed next to libjemalloc-dev (amd64;
# not Multi-Arch: same, apt would remove it), so it is unpacked into
# build/arm64/sysroot; for -ljemalloc or -l:libjemalloc_pic.a add
#   -L$ROOT/build/arm64/sysroot/usr/lib/aarch64-linux-gnu
#   -I$ROOT/build/arm64/sysroot/usr/include        (only for <jemalloc/...>)
# musl: musl-dev:arm64 gives aarch64-linux-gnu-gcc a specs file, e.g.
#   aarch64-linux-gnu-gcc -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs x.c
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
A=$ROOT/build/arm64
KERNEL=$A/vmlinuz
ROOTFS=$A/rootfs.cpio
SYSROOT=$A/sysroot
INIT=$ROOT/scripts/arm64/init
FAIL=1          # exit status of die(): 125 once `run` has started

# Host packages: the emulator, cpio, python3 (it precompiles the VM's
# python, whose first imports would take seconds under emulation), the
# cross compilers, and the arm64 libraries that leaktrap and its test
# targets link against (multiarch).
HOST_PKGS=(qemu-system-arm cpio python3 gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
	libc6-dev-arm64-cross libc6:arm64 libunwind-dev:arm64 libcapstone-dev:arm64
	libelf-dev:arm64 libdw-dev:arm64 libreadline-dev:arm64 zlib1g-dev:arm64
	libgoogle-perftools-dev:arm64 libmimalloc-dev:arm64 libjemalloc2:arm64 musl-dev:arm64)

# The VM's packages (and their dependencies): what tests/run.sh and the e2e
# scripts run, python3 for their helpers, and the runtime libraries of
# leaktrap and of the test targets. usr-is-merged keeps usrmerge (and perl)
# out. golang-go is added separately, trimmed to `go tool pprof`.
VM_PKGS=(base-files base-passwd usr-is-merged bash dash coreutils diffutils
	findutils grep sed mawk gzip procps psmisc util-linux mount hostname
	busybox strace python3 ncurses-base libc-bin libc6 libgcc-s1
	libstdc++6 libreadline8 libunwind8 libcapstone4 libelf1 libdw1 zlib1g
	libjemalloc2 libgoogle-perftools4 libmimalloc2.0 musl)
ROOTFS_FORMAT=2   # bump when the way the rootfs is assembled changes

# die MSG: one line on stderr naming what failed and what to do; exit.
die() {
	echo "arm64-vm.sh: $*" >&2
	exit "$FAIL"
}

# usage: the interface, on stderr; exit 2.
usage() {
	cat >&2 <<-EOF
	usage: scripts/arm64-vm.sh setup
	       scripts/arm64-vm.sh run [--cpu MODEL] [--smp N] [--mem MB] [--timeout SEC] DIR -- COMMAND [ARGS...]
	EOF
	exit 2
}

# ---------------------------------------------------------------- setup

# papt ARGS...: apt-get/apt-cache with arm64 as the only architecture, an
# empty dpkg status and private caches, reading the host's sources and lists.
papt() {
	local tool=$1; shift
	"$tool" -q -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
		-o Dir::State::status="$A/apt/status" -o Dir::Cache="$A/apt/cache" \
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# update_lists: refreshes the host's package lists (the arm64 ones too).
update_lists() {
	apt-get update -qq -o DPkg::Lock::Timeout=600 ||
		die "apt-get update failed (network? /etc/apt/sources.list*)"
}

# host_packages: adds the arm64 architecture and installs what is missing
# of HOST_PKGS, never removing a package to do so.
host_packages() {
	local p missing=() update=0
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
		update=1
	fi
	compgen -G '/var/lib/apt/lists/*_binary-arm64_Packages*' >/dev/null || update=1
	for p in "${HOST_PKGS[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || [ $update = 1 ] || return 0
	echo "arm64-vm.sh: installing ${missing[*]:-(package lists only)}" >&2
	export DEBIAN_FRONTEND=noninteractive
	update_lists
	[ ${#missing[@]} -gt 0 ] || return 0
	apt-get install -y -qq --no-install-recommends --no-remove -o DPkg::Lock::Timeout=600 \
		"${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed (a Multi-Arch conflict makes apt want to remove a package: see the apt output above)"
}

# fetch DEST PKG...: downloads the arm64 .debs of PKG... (not their
# dependencies) into DEST; refreshes the host's package lists once if the
# mirror no longer has the versions they name.
fetch() {
	local dest=$1; shift
	mkdir -p "$dest"
	(cd "$dest" && papt apt-get download "$@" >/dev/null) && return 0
	update_lists
	(cd "$dest" && papt apt-get download "$@" >/dev/null) ||
		die "cannot download the arm64 packages $* (network? mirror?)"
}

# unpack DEB ROOT: unpacks DEB's files into ROOT, following ROOT's merged-/usr
# directory symlinks (/bin -> usr/bin ...) instead of replacing them.
unpack() {
	dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --keep-directory-symlink ||
		die "cannot unpack $1"
}

# setup_kernel: build/arm64/vmlinuz from the package linux-image-arm64 points at.
setup_kernel() {
	[ -s "$KERNEL" ] && return 0
	local pkg tmp=$A/kernel.tmp
	pkg=$(papt apt-cache depends linux-image-arm64 | awk '/Depends: linux-image-/ { print $2; exit }')
	[ -n "$pkg" ] || die "no arm64 kernel package behind linux-image-arm64 in the package lists"
	rm -rf "$tmp"
	fetch "$tmp" "$pkg"
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' ||
		die "cannot unpack the kernel from $tmp"
	mv "$tmp"/boot/vmlinuz-* "$KERNEL.new"
	echo "${pkg%:arm64}" >"$A/vmlinuz.version"
	mv "$KERNEL.new" "$KERNEL"
	rm -rf "$tmp"
}

# rootfs_fixups DIR: what the maintainer scripts of a real installation
# would have made, minus what the tests never need.
rootfs_fixups() {
	local r=$1
	cp "$r/usr/share/base-passwd/passwd.master" "$r/etc/passwd"
	cp "$r/usr/share/base-passwd/group.master" "$r/etc/group"
	ln -sfn dash "$r/usr/bin/sh"
	ln -sfn mawk "$r/usr/bin/awk"
	ln -sfn which.debianutils "$r/usr/bin/which"
	echo arm64-vm >"$r/etc/hostname"
	printf '127.0.0.1\tlocalhost arm64-vm\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$r/etc/nsswitch.conf"
	: >"$r/etc/resolv.conf"
	mkdir -p "$r"/{proc,sys,dev,run,tmp,root,mnt,var/tmp}
	chmod 1777 "$r/tmp" "$r/var/tmp"
	chmod 700 "$r/root"
	mknod -m 600 "$r/dev/console" c 5 1
	mknod -m 666 "$r/dev/null" c 1 3
	rm -rf "$r"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion} "$r"/var/cache/* \
		"$r"/usr/lib/python3*/test "$r"/usr/lib/aarch64-linux-gnu/gconv
}

# add_pprof DIR: `go tool pprof` (golang-go, without its 300 MB of sources,
# compiler and linker) for the pprof-export tests.
add_pprof() {
	local r=$1 tmp=$A/go.tmp goroot dep
	rm -rf "$tmp"
	dep=$(papt apt-cache depends golang-go | awk '/Depends: golang-[0-9.]*-go/ { print $2; exit }')
	[ -n "$dep" ] || die "no golang-*-go behind golang-go in the arm64 package lists"
	fetch "$tmp" "golang-go" "$dep"
	mkdir -p "$tmp/x"
	for d in "$tmp"/*.deb; do unpack "$d" "$tmp/x"; done
	goroot=$(cd "$tmp/x/usr/lib" && echo go-[0-9]*)
	mkdir -p "$r/usr/lib/$goroot/bin" "$r/usr/lib/$goroot/pkg/tool/linux_arm64"
	cp -a "$tmp/x/usr/lib/$goroot/bin/go" "$r/usr/lib/$goroot/bin/"
	cp -a "$tmp/x/usr/lib/$goroot/VERSION" "$r/usr/lib/$goroot/"
	cp -a "$tmp/x/usr/lib/$goroot/pkg/tool/linux_arm64/pprof" "$r/usr/lib/$goroot/pkg/tool/linux_arm64/"
	ln -sfn "$goroot" "$r/usr/lib/go"
	ln -sfn ../lib/go/bin/go "$r/usr/bin/go"
	rm -rf "$tmp"
}

# precompile_python DIR: the VM's python standard library as .pyc files,
# compiled by the host's python of the same version (bytecode does not
# depend on the architecture), never checked against the sources.
precompile_python() {
	local lib ver
	lib=$(cd "$1/usr/lib" && echo python3.[0-9]*)
	ver=$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])') ||
		die "/usr/bin/python3 does not run (apt-get install python3)"
	[ "$ver" = "$lib" ] || die "the host has $ver, the VM $lib: cannot precompile the VM's python"
	/usr/bin/python3 -m compileall -q -j0 -s "$1" -p / --invalidation-mode unchecked-hash \
		"$1/usr/lib/$lib" >/dev/null || die "cannot precompile $1/usr/lib/$lib"
}

# setup_rootfs: build/arm64/rootfs.cpio from VM_PKGS, unless it was built
# from the same list already.
setup_rootfs() {
	local want r=$A/rootfs.tmp d
	want="$ROOTFS_FORMAT ${VM_PKGS[*]}"
	[ -s "$ROOTFS" ] && [ "$(cat "$A/rootfs.pkgs" 2>/dev/null)" = "$want" ] && return 0
	rm -f "$A"/apt/cache/archives/*.deb
	papt apt-get install --download-only -y -qq --no-install-recommends "${VM_PKGS[@]}" >/dev/null ||
		{ update_lists && papt apt-get install --download-only -y -qq \
			--no-install-recommends "${VM_PKGS[@]}" >/dev/null; } ||
		die "cannot download the arm64 packages of the rootfs (network? mirror?)"
	rm -rf "$r"
	mkdir -p "$r/usr/bin" "$r/usr/sbin" "$r/usr/lib" "$r/etc"
	ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"
	for d in "$A"/apt/cache/archives/*.deb; do unpack "$d" "$r"; done
	add_pprof "$r"
	rootfs_fixups "$r"
	precompile_python "$r"
	(cd "$r" && find . -mindepth 1 | cpio -o -H newc --quiet >"$ROOTFS.new") ||
		die "cannot pack $r into $ROOTFS"
	mv "$ROOTFS.new" "$ROOTFS"
	echo "$want" >"$A/rootfs.pkgs"
	rm -rf "$r" "$A"/apt/cache/archives/*.deb
}

# setup_sysroot: build/arm64/sysroot with libjemalloc-dev:arm64 (see header).
setup_sysroot() {
	[ -e "$SYSROOT/usr/lib/aarch64-linux-gnu/libjemalloc_pic.a" ] && return 0
	local tmp=$A/sysroot.tmp d
	rm -rf "$tmp" "$SYSROOT"
	fetch "$tmp/debs" libjemalloc-dev libjemalloc2
	mkdir -p "$tmp/root"
	for d in "$tmp"/debs/*.deb; do unpack "$d" "$tmp/root"; done
	rm -rf "$tmp/root/usr/share" "$tmp/root/usr/bin"
	mv "$tmp/root" "$SYSROOT"
	rm -rf "$tmp"
}

# setup: everything `run` needs, skipping what is done already.
setup() {
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "setup installs packages: run it as root"
		exec sudo "$0" setup
	fi
	mkdir -p "$A/apt/cache/archives/partial" || die "cannot create $A"
	# Two setups at once (two CI jobs) take turns.
	exec 9>"$A/setup.lock"
	flock 9 || die "cannot lock $A/setup.lock"
	: >"$A/apt/status"
	host_packages
	setup_kernel
	setup_rootfs
	setup_sysroot
}

# ---------------------------------------------------------------- run

# run_initrd OUT DIR NONCE COMMAND...: writes the per-run initramfs: the
# cached rootfs, then a cpio with /init, the command, and DIR at its path.
run_initrd() {
	local out=$1 dir=$2 nonce=$3 stage p parents=(); shift 3
	stage=$(dirname "$out")/stage
	mkdir -p "$stage/.lt-run/keep" "$stage/.lt-run/dev"
	ln -s /proc/self/fd "$stage/.lt-run/dev/fd"
	for p in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${p%:*}" "$stage/.lt-run/dev/${p#*:}"; done
	cp "$INIT" "$stage/init" && chmod 755 "$stage/init"
	printf '%s' "$dir" >"$stage/.lt-run/dir"
	printf '%s' "$nonce" >"$stage/.lt-run/nonce"
	printf '%s\0' "$@" >"$stage/.lt-run/argv"
	cat "$ROOTFS" >"$out"
	# The kernel reads archive after archive; zeros between them are skipped.
	head -c $(( (512 - $(stat -c %s "$ROOTFS") % 512) % 512 )) /dev/zero >>"$out"
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) >>"$out" ||
		die "cannot pack the VM's /init"
	# DIR's parents first: the kernel does not create missing directories.
	p=${dir#/}
	while [[ $p == */* ]]; do p=${p%/*}; parents=("$p" "${parents[@]}"); done
	(cd / && {
		[ ${#parents[@]} = 0 ] || printf '%s\0' "${parents[@]}"
		find "${dir#/}" -print0
	} | cpio -o -0 -H newc --quiet) >>"$out" || die "cannot pack $dir"
}

# exit_filter NONCE STATUSFILE: copies the console to stdout up to the
# marker line, which it turns into STATUSFILE; drops the rest (shutdown).
exit_filter() {
	perl -e '
		my ($nonce, $file) = @ARGV; $| = 1;
		my ($held, $done) = ("", 0);
		while (my $l = <STDIN>) {
			next if $done;
			if ($l =~ /^\@\@LT-VM-EXIT \Q$nonce\E (\d+)\@\@\r?\n?$/) {
				open(my $f, ">", $file) or die; print $f "$1\n"; close $f;
				$done = 1; next;            # $held was the marker'"'"'s own newline
			}
			print $held; $held = "";
			if ($l eq "\n") { $held = $l } else { print $l }
		}
		print $held unless $done;' "$1" "$2"
}

# run ARGS...: the `run` subcommand (see the header).
run() {
	local cpu=cortex-a57 smp=2 mem=2048 timeout=1800 dir tmp nonce rc status
	local append="console=ttyAMA0 quiet loglevel=0 panic=-1 rdinit=/init"
	FAIL=125
	while [ $# -gt 0 ]; do
		case $1 in
		--cpu) cpu=${2:?}; shift 2 ;;
		--smp) smp=${2:?}; shift 2 ;;
		--mem) mem=${2:?}; shift 2 ;;
		--timeout) timeout=${2:?}; shift 2 ;;
		--) usage ;;
		-*) usage ;;
		*) break ;;
		esac
	done
	[ $# -ge 3 ] && [ "$2" = -- ] || usage
	[[ $smp =~ ^[0-9]+$ && $mem =~ ^[0-9]+$ && $timeout =~ ^[0-9]+$ ]] || usage
	dir=$(realpath -e "$1" 2>/dev/null) && [ -d "$dir" ] || die "$1 is not a directory"
	[ "$dir" != / ] || die "DIR cannot be / (give the project directory)"
	shift 2
	[ -s "$KERNEL" ] && [ -s "$ROOTFS" ] || die "no VM under $A: run scripts/arm64-vm.sh setup"
	command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 is missing: run scripts/arm64-vm.sh setup"
	[ "$cpu" = max ] && cpu=max,pauth-impdef=on
	[ "${ARM64_VM_DEBUG:-0}" = 1 ] && append="console=ttyAMA0 loglevel=7 panic=-1 rdinit=/init lt_debug=1"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/arm64-vm.XXXXXX") || die "cannot create a temporary directory"
	trap 'rm -rf "$tmp"' EXIT
	nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
	run_initrd "$tmp/initrd" "$dir" "$nonce" "$@"
	set +e
	timeout --foreground -k 10 "$timeout" qemu-system-aarch64 -M virt -cpu "$cpu" \
		-smp "$smp" -m "$mem" -accel tcg,thread=multi -nodefaults -no-reboot \
		-display none -monitor none -chardev stdio,id=con,signal=off -serial chardev:con \
		-kernel "$KERNEL" -initrd "$tmp/initrd" -append "$append" </dev/null |
		exit_filter "$nonce" "$tmp/status"
	rc=${PIPESTATUS[0]}
	set -e
	if [ -s "$tmp/status" ]; then
		status=$(cat "$tmp/status")
		exit "$status"
	fi
	[ "$rc" = 124 ] && { echo "arm64-vm.sh: timed out after $timeout s (--timeout)" >&2; exit 124; }
	die "the VM ended without reporting the command's status (qemu exit $rc): see qemu's message above, or rerun with ARM64_VM_DEBUG=1 for the kernel log (a panic? too little --mem?)"
}

case ${1:-} in
setup) [ $# = 1 ] || usage; setup ;;
run) shift; run "$@" ;;
*) usage ;;
esac
