#!/usr/bin/env bash
# Export throughput: how fast tsbuild turns a large layer into a gzip
# image tar, beside `tar -c DIR | gzip -6` of the same files on this machine.
#
#   bench/export-throughput.sh            # 200 MB context, 3 runs each
#   SIZE_MB=50 RUNS=5 bench/export-throughput.sh
#
# Prints plain numbers: median seconds and MB/s (MB = 10^6 bytes of context).
# Needs root (builds mount overlays) and a compiled tree (npx tsc -p .).
set -euo pipefail

SIZE_MB=${SIZE_MB:-200}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TSBUILD="$HERE/bin/tsbuild"
WORK=$(mktemp -d /tmp/tsbuild-bench-export.XXXXXX)
export TSBUILD_ROOT="$WORK/store"
trap 'rm -rf "$WORK"' EXIT

# A context of mixed files: source-like text (compresses ~4:1), base64 of
# random bytes (~1.3:1), raw random bytes (incompressible), many small files.
node --input-type=module - "$WORK/ctx/data" "$SIZE_MB" <<'EOF'
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
const [dir, sizeMb] = [process.argv[2], Number(process.argv[3])];
const total = sizeMb * 1e6;
const words = 'const let function return import export from async await class interface type string number if else for while'.split(' ');
function textFile(bytes) {
  const parts = [];
  let n = 0, seed = bytes;
  while (n < bytes) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const line = `${words[seed % words.length]} x${seed % 9973} = ${words[(seed >> 8) % words.length]}(${seed % 101});\n`;
    parts.push(line); n += line.length;
  }
  return parts.join('').slice(0, bytes);
}
let written = 0, i = 0;
const put = (rel, data) => { const p = path.join(dir, rel); mkdirSync(path.dirname(p), { recursive: true }); writeFileSync(p, data); written += data.length; };
// 45% text in 1 MB files, 25% base64, 20% random in 4 MB files, 10% small 4 KB text files.
while (written < total * 0.45) put(`src/m${i++}.ts`, textFile(1 << 20));
while (written < total * 0.70) put(`assets/b${i++}.b64`, randomBytes(3 << 18).toString('base64'));
while (written < total * 0.90) put(`bin/r${i++}.bin`, randomBytes(4 << 20));
while (written < total) put(`small/d${i % 50}/s${i++}.txt`, textFile(4096));
console.error(`context: ${(written / 1e6).toFixed(1)} MB in ${i} files`);
EOF
CTX_BYTES=$(du -sb "$WORK/ctx/data" | cut -f1)
printf 'FROM busybox:latest\nCOPY data /data\n' > "$WORK/ctx/Dockerfile"

node "$HERE/dist/fixtures/base-images/load-busybox.js" >/dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# time_runs LABEL CMD...: runs CMD RUNS times (dropping the page cache is not ours to do; the
# first build warmed it), prints "LABEL median_s MB/s output_MB".
time_runs() {
  local label=$1; shift
  local times=() out_bytes=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$WORK/out"; mkdir -p "$WORK/out"
    local t0 t1; t0=$(now); "$@"; t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
    out_bytes=$(du -sb "$WORK/out" | cut -f1)
  done
  local med; med=$(printf '%s\n' "${times[@]}" | median)
  printf '%-34s %8.2f s %8.1f MB/s   out %7.1f MB\n' "$label" "$med" "$(echo "$CTX_BYTES / 1000000 / $med" | bc -l)" "$(echo "$out_bytes / 1000000" | bc -l)"
}

echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); context $(echo "$CTX_BYTES / 1000000" | bc) MB; median of $RUNS runs"
t0=$(now); $TSBUILD build -q -t bench:v1 "$WORK/ctx" >/dev/null; t1=$(now)
printf '%-34s %8.2f s %8.1f MB/s   (once: context hash + layer write)\n' "build into store (cold)" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$CTX_BYTES / 1000000 / ($t1 - $t0)" | bc -l)"

time_runs "tsbuild save --compression gzip" $TSBUILD save --compression gzip -o "$WORK/out/img.tar" bench:v1
time_runs "tsbuild save (uncompressed)" $TSBUILD save -o "$WORK/out/img.tar" bench:v1
time_runs "tsbuild build -o type=oci (cached)" sh -c "$TSBUILD build -q -o 'type=oci,dest=$WORK/out/img.tar' '$WORK/ctx' >/dev/null"
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg) (numbers from a busy machine are noisy)"
time_runs "tar -c | gzip -6" sh -c "tar -C '$WORK/ctx' -c data | gzip -6 > '$WORK/out/data.tar.gz'"
if command -v pigz >/dev/null; then
  time_runs "tar -c | pigz -6" sh -c "tar -C '$WORK/ctx' -c data | pigz -6 > '$WORK/out/data.tar.gz'"
fi
