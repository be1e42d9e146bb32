#!/usr/bin/env bash
# Debian packages tsbuild's tests and sample builds use: the busybox base
# image fixture, independent image checkers (skopeo, umoci), a loopback
# registry, decompressors for ADD, strace (to prove builds spawn no host
# tools), git (git build contexts and ADD <git url>), and a C compiler
# and libseccomp for the sandbox helper. Idempotent; needs root (or sudo).
set -euo pipefail
packages=(busybox-static skopeo umoci docker-registry apache2-utils slirp4netns attr xz-utils bzip2 zstd iproute2 curl gcc libc6-dev libseccomp-dev tar gzip runc crun openssh-client strace git uidmap fuse-overlayfs openssh-server openssl)
# Rootless mode needs /dev/fuse (fuse-overlayfs) and /dev/net/tun (slirp4netns)
# usable by users, as a stock Debian host has them (0666); some images ship
# them 0600, which leaves rootless tsbuild without those two.
widen_device_modes() {
  for dev in /dev/fuse /dev/net/tun; do
    if [ -c "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ]; then
      chmod 0666 "$dev" 2>/dev/null || sudo chmod 0666 "$dev" || true
    fi
  done
}
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then widen_device_modes; exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
widen_device_modes
