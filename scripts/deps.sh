#!/bin/sh
# Installs the Debian packages leaktrap needs to build and test; does nothing
# when they are all present. Run as root (or with sudo available).
set -e
pkgs="make gcc g++ pkg-config libunwind-dev libcapstone-dev libelf-dev libdw-dev
      libreadline-dev zlib1g-dev python3 procps strace golang-go clang libclang-rt-14-dev
      musl-tools libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev libc6:arm64"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing$missing" >&2
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
# libc6:arm64: the aarch64 relocator's unit test reads its allocator (multiarch)
dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
