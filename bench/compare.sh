#!/usr/bin/env bash
# tsbuild side by side with Docker's BuildKit (Debian's docker.io) and,
# when it runs here, buildah, on three projects:
#   a) two parallel stages + a final assembly stage, on busybox
#   b) 5,000 files / 40 MB: `COPY . /app` then RUN, on busybox
#   c) an app on debian:bookworm: useradd, COPY --chown, RUN
# and `run --rm IMAGE true`. Phases: cold (empty store and build cache; the
# base image is pulled from a loopback registry), no-op rebuild (the first
# after the cold build), no-op again (a second identical rebuild: what an
# edit-free CI re-run or a save loop repeats), rebuild after one source
# file changed. Tools alternate run by run (and which one
# goes first alternates too); each line prints the medians and the ratio
# tsbuild / BuildKit (below 1: tsbuild is faster).
#
#   bench/compare.sh                       # RUNS=3
#   RUNS=5 PROJECTS="a b" TOOLS="tsbuild buildkit" bench/compare.sh
#   PROFILE=/tmp/prof RUNS=1 TOOLS=tsbuild bench/compare.sh   # + a V8 CPU profile of
#       every tsbuild build, in PROFILE/<project>-<phase>/ (bench/profile-summary.ts reads them)
#   KEEP=1 ...                             # keep the work dir (logs, stores) for a look
#   WARM_TSBUILD=0 ...                     # no untimed first builds to write tsbuild's code caches (see below)
#   TSBUILD_NETWORK=default ...            # tsbuild's RUNs in its default network, not the host's as the others' (see below)
#   TSBUILD_B=/path/to/other/checkout/bin/tsbuild TOOLS="tsbuild tsbuild-b" PROJECTS=c RUNS=9 bench/compare.sh
#       # A/B of two tsbuild builds (after `npm run build` in both), alternating
#       run by run on the same fresh file system: adds a tsbuild-b column and
#       the ratio tsbuild-b / tsbuild
#
# As root, after `npm run build`. It installs docker.io, docker-registry,
# debootstrap and buildah with apt when missing, makes the debian base once
# (bench/debian-rootfs.sh, cached in $BENCH_CACHE), starts a registry on
# 127.0.0.1 and its own dockerd (private socket, data root and exec root,
# --bridge=none --iptables=false), and stops and removes all of it at exit.
# Whole client commands are timed (process start included); the daemons
# are warm (dockerd builds a throw-away image once before the first timed
# build). The load average is printed at the start and the end: on a
# shared machine, read the ratios rather than the absolute times.
#
# Where the tools keep their state: every tool's store (tsbuild's store,
# dockerd's data root, buildah's root) lives on one ext4 file system made
# fresh for this run (default mkfs.ext4 options, so with a journal, as on
# a usual host), loop-mounted under the work dir. The reason: an ext4
# WITHOUT a journal (this project's CI VMs have one) will not reuse an
# inode freed less than 60 s ago (360 s while its inode-table block is
# dirty) and scans past every such inode for each file it creates
# (recently_deleted() in fs/ext4/ialloc.c). A cold build right after the
# reset of the previous run (rm -rf / prune of ~10,000 files) then spent
# up to 3/4 of its extraction in that scan, and how much depended on what
# anyone on the machine had deleted in the last minutes; a pause after the
# reset cannot cure it (the new files re-dirty those blocks). With a
# journal, ext4 does no such scan. BENCH_FS=host keeps the state on the
# work dir's own file system instead (the same for every tool).
set -euo pipefail

RUNS=${RUNS:-3}
PROJECTS=${PROJECTS:-a b c}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BENCH_CACHE=${BENCH_CACHE:-/var/cache/tsbuild-bench}
WORK=$(mktemp -d /var/tmp/tsbuild-bench-compare.XXXXXX)
TSBUILD=("$HERE/bin/tsbuild")   # the command as users run it
DOCKER=(/usr/bin/docker -H "unix://$WORK/docker.sock")
STATE=$WORK/state
BUILDAH=(buildah --root "$STATE/buildah/root" --runroot "$WORK/buildah/run" --storage-driver overlay)
PIDS=()

log() { echo "# $*" >&2; }

cleanup() {
  set +e
  if [[ -f "$WORK/docker.pid" ]]; then
    local pid; pid=$(cat "$WORK/docker.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  # Whatever dockerd, buildah or a build left mounted under the work dir.
  grep -o " $WORK[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  [[ -n "${KEEP:-}" ]] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { log "installing $2"; apt-get install -y --no-install-recommends "$2" >&2; }; }
need dockerd docker.io
need docker-registry docker-registry
need debootstrap debootstrap
HAVE_BUILDAH=1
command -v buildah >/dev/null || apt-get install -y --no-install-recommends buildah >&2 || HAVE_BUILDAH=0
TOOLS=${TOOLS:-tsbuild buildkit $([[ $HAVE_BUILDAH == 1 ]] && echo buildah)}
if [[ " $TOOLS " == *" tsbuild-b "* && ! -x "${TSBUILD_B:-}" ]]; then log "tsbuild-b needs TSBUILD_B=/path/to/bin/tsbuild"; exit 2; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the tools' state on a fresh file system (see the header) ---------------
mkdir -p "$STATE"
if [[ ${BENCH_FS:-loop} == loop ]]; then
  truncate -s 32G "$WORK/state.img"
  mkfs.ext4 -q -F "$WORK/state.img"
  mount -o loop "$WORK/state.img" "$STATE"
fi

# --- loopback registry with both base images --------------------------------
PORT=$(free_port)
REG=127.0.0.1:$PORT
cat > "$WORK/registry.yml" <<EOF
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $WORK/registry } }
http: { addr: $REG }
EOF
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

DEBIAN_TAR=$(bash "$HERE/bench/debian-rootfs.sh" "$BENCH_CACHE")
log "seeding $REG with busybox and debian:bookworm"
(
  export TSBUILD_ROOT="$WORK/seed-store"
  node "$HERE/dist/fixtures/base-images/load-busybox.js" busybox:latest >/dev/null
  "${TSBUILD[@]}" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["bash"]' \
    "$DEBIAN_TAR" debian:bookworm >/dev/null
  "${TSBUILD[@]}" push busybox:latest "$REG/library/busybox:latest" >/dev/null
  "${TSBUILD[@]}" push debian:bookworm "$REG/library/debian:bookworm" >/dev/null
  rm -rf "$TSBUILD_ROOT"
)

# --- dockerd on a private socket and data root -----------------------------
if [[ " $TOOLS " == *" buildkit "* ]]; then
  dockerd --host "unix://$WORK/docker.sock" --data-root "$STATE/docker-data" --exec-root "$WORK/docker-exec" \
    --pidfile "$WORK/docker.pid" --bridge=none --iptables=false --ip-masq=false \
    --insecure-registry "$REG" > "$WORK/dockerd.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do "${DOCKER[@]}" info >/dev/null 2>&1 && break; sleep 0.2; done
  "${DOCKER[@]}" info >/dev/null || { tail -20 "$WORK/dockerd.log" >&2; exit 1; }
  # Warm: the first build after dockerd starts sets BuildKit up (about 2 s
  # here), which a warm daemon does not pay.
  mkdir -p "$WORK/warm-up" && echo "FROM $REG/library/busybox:latest" > "$WORK/warm-up/Dockerfile"
  DOCKER_BUILDKIT=1 "${DOCKER[@]}" build -q "$WORK/warm-up" >/dev/null
  "${DOCKER[@]}" builder prune -af >/dev/null
  "${DOCKER[@]}" image prune -af >/dev/null
fi

# --- the projects -----------------------------------------------------------
node "$HERE/dist/bench/compare-projects.js" "$WORK/projects" "$REG"

now() { date +%s%N; }
# Runs a command, appends its wall time (s) to a sample file; fails loudly.
timed() {
  local out=$1; shift
  local t0 t1
  t0=$(now)
  if ! "$@" >> "$WORK/commands.log" 2>&1; then
    log "FAILED: $*"; tail -30 "$WORK/commands.log" >&2; exit 1
  fi
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >> "$out"
}

reset_tool() {
  case $1 in
    tsbuild) rm -rf "$STATE/tsbuild-store" ;;
    tsbuild-b) rm -rf "$STATE/tsbuild-b-store" ;;
    buildkit)
      "${DOCKER[@]}" builder prune -af >/dev/null
      "${DOCKER[@]}" image prune -af >/dev/null ;;
    buildah) "${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1 || true ;;
  esac
}

# Every tool's RUNs share the host's network namespace: dockerd here has no
# bridge, so BuildKit's RUNs get --network=host, and buildah's chroot
# isolation makes no namespace. tsbuild gets the same flag (with the
# entitlement buildx asks for it), not its default: a namespace of its own
# with slirp4netns, work the others are not asked to do (4-6 ms more CPU
# per build with a RUN here). TSBUILD_NETWORK=default times tsbuild's own
# default instead.
TS_NET=(--network=host --allow network.host)
[[ "${TSBUILD_NETWORK:-host}" == default ]] && TS_NET=()

build_with() {
  local tool=$1 project=$2 phase=$3
  local ctx="$WORK/projects/$project"
  case $tool in
    tsbuild)
      local cmd=("${TSBUILD[@]}")
      # Node refuses --cpu-prof in NODE_OPTIONS: run the script as bin/tsbuild does, with the flag.
      [[ -n "${PROFILE:-}" ]] && cmd=(env -u NODE_EXTRA_CA_CERTS ${NODE_EXTRA_CA_CERTS:+"TSBUILD_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS"}
        node --cpu-prof "--cpu-prof-dir=$PROFILE/$project-$phase" "$HERE/bin/tsbuild.js")
      env TSBUILD_ROOT="$STATE/tsbuild-store" "${cmd[@]}" build --progress=plain "${TS_NET[@]}" -t "bench-$project" "$ctx" ;;
    tsbuild-b) env TSBUILD_ROOT="$STATE/tsbuild-b-store" "$TSBUILD_B" build --progress=plain "${TS_NET[@]}" -t "bench-$project" "$ctx" ;;
    buildkit) DOCKER_BUILDKIT=1 "${DOCKER[@]}" build --progress=plain --network=host -t "bench-$project" "$ctx" ;;
    buildah) "${BUILDAH[@]}" bud --layers --isolation chroot --tls-verify=false -t "bench-$project" "$ctx" ;;
  esac
}

# One file of the project changes before the rebuild: each tool's rebuild
# sees a real one-file change against its own previous build.
touch_one_file() { echo "// edit $(now)" >> "$WORK/projects/$1/$(cat "$WORK/projects/$1/.bench-edit")"; }

# Warm: tsbuild's launcher writes V8's code cache of each command (and of
# a rebuild apart from a first build) after its first runs, beside the
# bundle, as dockerd sets BuildKit up on its first build. Those caches are
# shared by every project: one written by another project's rebuild lacks
# what this one's runs, and costs it the compiling until the launcher's
# check writes it again (up to ~30 ms of a's rebuild, for some runs). So
# each tsbuild first builds every project once, the same phases, in a
# throw-away store. WARM_TSBUILD=0 times the runs that write them.
if [[ "${WARM_TSBUILD:-1}" != 0 ]]; then
  for tool in $TOOLS; do
    [[ $tool == tsbuild || $tool == tsbuild-b ]] || continue
    log "warming $tool's code caches"
    for project in $PROJECTS; do
      reset_tool "$tool"
      for phase in cold noop noop2 change; do
        [[ $phase == change ]] && touch_one_file "$project"
        PROFILE='' build_with "$tool" "$project" "$phase" >> "$WORK/commands.log" 2>&1
      done
    done
  done
fi

mkdir -p "$WORK/samples"
log "load at start: $(cut -d' ' -f1-3 /proc/loadavg); tools: $TOOLS; runs: $RUNS; state on: $(findmnt -no FSTYPE,SOURCE -T "$STATE" | tr -s ' ')"
for project in $PROJECTS; do
  for i in $(seq "$RUNS"); do
    tools=($TOOLS)
    # Alternate which tool goes first.
    (( i % 2 == 0 )) && tools=($(printf '%s\n' "${tools[@]}" | tac))
    for tool in "${tools[@]}"; do
      log "$project run $i: $tool"
      reset_tool "$tool"
      timed "$WORK/samples/$project.cold.$tool" build_with "$tool" "$project" cold
      timed "$WORK/samples/$project.noop.$tool" build_with "$tool" "$project" noop
      timed "$WORK/samples/$project.noop2.$tool" build_with "$tool" "$project" noop2
      touch_one_file "$project"
      timed "$WORK/samples/$project.change.$tool" build_with "$tool" "$project" change
    done
  done
done

# `run --rm IMAGE true` on the last project's image (each project starts
# from an empty store, so only that one is left), no network for both.
last=${PROJECTS##* }
for i in $(seq "$RUNS"); do
  for tool in $TOOLS; do
    case $tool in
      tsbuild) timed "$WORK/samples/run.true.$tool" env TSBUILD_ROOT="$STATE/tsbuild-store" "${TSBUILD[@]}" run --rm --network none "bench-$last" true ;;
      tsbuild-b) timed "$WORK/samples/run.true.$tool" env TSBUILD_ROOT="$STATE/tsbuild-b-store" "$TSBUILD_B" run --rm --network none "bench-$last" true ;;
      buildkit) timed "$WORK/samples/run.true.$tool" "${DOCKER[@]}" run --rm --network none "bench-$last" true ;;
    esac
  done
done
log "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the table ----------------------------------------------------------------
median() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.3f\n", NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A TITLE=([a]='two parallel stages + final assembly (busybox)' [b]='5,000 files + 40 MB, `COPY . /app` then RUN' [c]='app on debian:bookworm (useradd, COPY --chown, RUN)' [run]="\`run --rm bench-$last true\`")
declare -A PHASE=([cold]=cold [noop]=no-op [noop2]='no-op again' [change]='one file changed' [true]='')
echo
echo "$(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $RUNS runs, medians, seconds"
header="| project | phase | tsbuild | BuildKit |"; rule="| --- | --- | --- | --- |"
[[ " $TOOLS " == *" buildah "* ]] && { header+=" buildah |"; rule+=" --- |"; }
WITH_B=0; [[ " $TOOLS " == *" tsbuild-b "* ]] && { WITH_B=1; header+=" tsbuild-b |"; rule+=" --- |"; }
echo "$header ratio tsbuild/BuildKit |$([[ $WITH_B == 1 ]] && echo " ratio tsbuild-b/tsbuild |")"; echo "$rule --- |$([[ $WITH_B == 1 ]] && echo " --- |")"
for key in $(for p in $PROJECTS; do echo "$p.cold $p.noop $p.noop2 $p.change"; done) run.true; do
  project=${key%%.*}; phase=${key#*.}
  [[ -f "$WORK/samples/$key.tsbuild" ]] || continue
  ts=$(median "$WORK/samples/$key.tsbuild")
  # The project's title on its first row only, as in the README's table.
  title=${TITLE[$project]}; [[ $project == "${last_project:-}" ]] && title=''; last_project=$project
  row="| $title | ${PHASE[$phase]} | $ts"
  bk=-
  [[ -f "$WORK/samples/$key.buildkit" ]] && bk=$(median "$WORK/samples/$key.buildkit")
  row+=" | $bk"
  if [[ " $TOOLS " == *" buildah "* ]]; then
    ba=-; [[ -f "$WORK/samples/$key.buildah" ]] && ba=$(median "$WORK/samples/$key.buildah")
    row+=" | $ba"
  fi
  tb=-
  if [[ $WITH_B == 1 ]]; then
    [[ -f "$WORK/samples/$key.tsbuild-b" ]] && tb=$(median "$WORK/samples/$key.tsbuild-b")
    row+=" | $tb"
  fi
  ratio=-; [[ $bk != - ]] && ratio=$(awk -v a="$ts" -v b="$bk" 'BEGIN { printf "%.2f", a / b }')
  row+=" | $ratio |"
  if [[ $WITH_B == 1 ]]; then
    ratio_b=-; [[ $tb != - ]] && ratio_b=$(awk -v a="$tb" -v b="$ts" 'BEGIN { printf "%.2f", a / b }')
    row+=" $ratio_b |"
  fi
  echo "$row"
done
