#!/usr/bin/env bash
# Makes (once) a debian:bookworm minbase root filesystem tarball with
# debootstrap from the apt mirror this machine already uses, for the
# side-by-side bench (bench/compare.sh). Prints the tarball's path.
#
#   bench/debian-rootfs.sh [CACHE_DIR]     # default: /var/cache/tsbuild-bench
#
# The tarball is sorted, numeric-owner and mtime-clamped, so it is the same
# input on every run of the bench; made once, it is reused.
set -euo pipefail

CACHE=${1:-${BENCH_CACHE:-/var/cache/tsbuild-bench}}
OUT="$CACHE/debian-bookworm-minbase.tar"
if [[ -s "$OUT" ]]; then echo "$OUT"; exit 0; fi

command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap >&2
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"
ROOT=$(mktemp -d "$CACHE/rootfs.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
echo "debootstrap --variant=minbase bookworm from $MIRROR (once; cached in $CACHE)" >&2
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >&2
# What an image does not carry: device nodes (a container gets its own
# /dev), apt lists and caches, logs of the install.
rm -rf "$ROOT"/dev/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/log/* "$ROOT"/tmp/*
tar -C "$ROOT" --sort=name --numeric-owner --mtime=@1700000000 --clamp-mtime --xattrs -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "$OUT"
