#!/usr/bin/env bash
# Debian packages tsbuild's tests and sample builds use: the busybox base
# image fixture, independent image checkers (skopeo, umoci), a loopback
# registry, decompressors for ADD, strace (to prove builds spawn no host
# tools), git (git build contexts and ADD <git url>), and a C compiler
# and libseccomp for the sandbox helper. Idempotent; needs root (or sudo).
set -euo pipefail
packages=(busybox-static skopeo umoci docker-registry apache2-utils slirp4netns attr xz-utils bzip2 zstd iproute2 curl gcc libc6-dev libseccomp-dev tar gzip runc crun openssh-client strace git uidmap openssh-server openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
