// Writes the three projects bench/compare.sh builds, with their base
// images on the given registry:
//   node dist/bench/compare-projects.js DIR REGISTRY
// Each project gets a `.bench-edit` file naming the source file the
// one-file-changed phase appends to (ignored through .dockerignore).
// Contents are pseudo-random but fixed: every run builds the same inputs.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [dir, registry] = process.argv.slice(2);
if (!dir || !registry) {
  console.error('usage: compare-projects DIR REGISTRY');
  process.exit(2);
}

let seed = 42;
function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    b.writeUInt32LE(seed, i);
  }
  return b;
}

function project(name: string, dockerfile: string, files: Record<string, string | Buffer>, edit: string): void {
  const root = path.join(dir, name);
  const put = (rel: string, data: string | Buffer) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), data);
  };
  put('Dockerfile', dockerfile);
  put('.dockerignore', '.bench-edit\n');
  put('.bench-edit', edit);
  for (const [rel, data] of Object.entries(files)) put(rel, data);
}

const source = (i: number) => `// module ${i}\nexport const value${i} = ${i};\n` + 'x'.repeat(400) + '\n';

// a) two independent stages (built in parallel by both tools) and a final
// stage that assembles their results.
const a: Record<string, string> = { 'main.txt': 'main\n' };
for (let i = 0; i < 20; i++) {
  a[`left/f${i}.txt`] = source(i);
  a[`right/f${i}.txt`] = source(100 + i);
}
project('a', `FROM ${registry}/library/busybox:latest AS left
COPY left/ /src/
RUN cat /src/*.txt | wc -c > /left.size && sha256sum /src/*.txt > /left.sums
FROM ${registry}/library/busybox:latest AS right
COPY right/ /src/
RUN find /src -type f | sort > /right.list && md5sum /src/*.txt > /right.sums
FROM ${registry}/library/busybox:latest
COPY --from=left /left.size /left.sums /out/
COPY --from=right /right.list /right.sums /out/
COPY main.txt /out/
RUN ls -l /out > /out/listing
`, a, 'left/f1.txt');

// b) 5,000 files of 8 KiB (40 MB) in 50 directories.
const b: Record<string, Buffer> = {};
for (let i = 0; i < 5000; i++) b[`src/d${String(i % 50).padStart(2, '0')}/f${i}.bin`] = bytes(8192);
project('b', `FROM ${registry}/library/busybox:latest
COPY . /app
RUN find /app -type f | wc -l > /count && du -s /app > /du
`, b, 'src/d07/f7.bin');

// c) an application on a debian base.
const c: Record<string, string> = { 'app/bin/start.sh': '#!/bin/sh\nexec echo started\n' };
for (let i = 0; i < 40; i++) c[`app/lib/m${i}.js`] = source(i);
project('c', `FROM ${registry}/library/debian:bookworm
RUN useradd --create-home --uid 1000 --shell /bin/bash app
COPY --chown=app:app app/ /home/app/
WORKDIR /home/app
USER app
RUN chmod 0755 bin/start.sh && ls -lR . > listing.txt && id > whoami.txt
CMD ["/home/app/bin/start.sh"]
`, c, 'app/lib/m3.js');
