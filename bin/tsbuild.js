#!/usr/bin/env node
// The tsbuild command: runs the bundled CLI (dist/bundle/tsbuild.cjs, made
// by `npm install`, see scripts/bundle-cli.js) through V8's code cache. A
// short-lived CLI spends much of its time compiling the functions it runs;
// with the cache a no-op rebuild starts ~100 ms sooner. Each command has its
// own cache (`build` runs other functions than `ps`), written after its
// first successful run and again whenever V8 rejects it (another Node). The
// cache is named after the bundle file's identity, so a rebuilt bundle never
// meets an old cache. CommonJS (bin/package.json): no ES module loader to
// start either.
//
// When a server may be named (the same test as builder/cli/remote-entry.ts)
// and the command is one that runs there, the remote client's small bundle
// (tsbuild-remote.cjs) runs instead: a build through a server never reads,
// deserializes or initialises the local builder. It loads the full CLI
// itself for what turns out to run here (--help, a bad flag); a command
// that always runs here (`run`, `ps` with TSBUILD_HOST exported) goes
// straight to the full CLI, which would run a remote one as well: the list
// below only chooses the faster start. A local `build` runs the small
// bundle too: it answers a no-op rebuild from the store's memo and loads
// the full CLI for any other.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

// runsRemotely() in builder/cli/remote-dispatch.ts (a test keeps them alike).
const REMOTE_COMMANDS = new Set(['build', 'version', 'images', 'inspect', 'history', 'tag', 'rmi', 'push', 'pull', 'du', 'prune']);

// docker's management spellings (`image ls`, `buildx build`, ...) become
// their top-level forms before anything is chosen: builder/cli/command-aliases.ts
// (a test keeps them alike).
const COMMAND_ALIASES = {"image":{"build":["build"],"history":["history"],"import":["import"],"inspect":["inspect","--type","image"],"load":["load"],"ls":["images"],"list":["images"],"pull":["pull"],"push":["push"],"rm":["rmi"],"remove":["rmi"],"save":["save"],"tag":["tag"]},"builder":{"build":["build"],"prune":["prune"]},"buildx":{"build":["build"],"b":["build"],"du":["du"],"prune":["prune"],"version":["version"]},"system":{"df":["du"],"info":["info"]}};
const argv = expandAlias(process.argv.slice(2));
const command = commandAfterGlobals();
const remote = (/^(-H|--host|--tls|--ssh)/.test(argv[0] ?? '') || !!process.env.TSBUILD_HOST) && REMOTE_COMMANDS.has(command);
// A local build asks the store's memo first, from the same small bundle
// (builder/cli/local-memo-entry.ts); TSBUILD_NO_MEMO turns that off.
const memo = !remote && argv[0] === 'build' && /^(|0)$/.test(process.env.TSBUILD_NO_MEMO ?? '');
// With --enable-source-maps, a plain require: Node maps the stack traces of
// modules it loads itself back to the TypeScript, not those of a vm.Script.
const withCache = !process.sourceMapsEnabled;
const loaded = [];
// The code cache file's trailer (splitCacheFile): "TSBD" with the
// writer's bytecode size and CPU time; "TSBC", an older launcher's, with
// its bytecode size only.
const TRAILER_MAGIC = 0x54534244; // "TSBD"
const TRAILER_BYTES = 20;
const OLD_TRAILER_MAGIC = 0x54534243; // "TSBC"
const OLD_TRAILER_BYTES = 12;
// A run that compiled this much more bytecode than the cache's writer writes it again (outgrown()).
const OUTGROWN_BYTECODE = 1.1;

// Once the work is done and nothing is left to wait for, the process ends
// at once: a natural exit then tears down the whole V8 heap and Node's
// environment first (2-4 ms here, after the build's last line), which an
// exit() leaves to the kernel. 'beforeExit' comes only when the event loop
// is empty, exactly when a natural exit would begin, so no write, child
// or timer is cut short; the 'exit' listeners run as before, and stdout
// and stderr (files, pipes and terminals alike) are written synchronously
// on Linux.
process.once('beforeExit', () => exitNow());

const lean = remote || memo;
const cli = lean ? load('tsbuild-remote', remote ? `remote-${command}` : 'local-memo') : load('tsbuild', command);
// The lean bundle may name a variant of the command (a rebuild of a context
// built before runs other functions than a first build, and its cache holds
// just those: a smaller cache to deserialize, and no function of its path
// compiled again at every rebuild).
const done = lean ? cli.main(argv, (variant) => load('tsbuild', variant ? `${command}.${variant}` : command)) : cli.main(argv);
done.then(
  (code) => {
    process.exitCode = code;
    // Successes only: a mistyped command must not leave a cache file behind.
    if (code === 0) for (const l of loaded) if (!l.cachedData || l.script.cachedDataRejected || outgrown(l)) saveCodeCache(l);
    // Often nothing is left already (a no-op answered from the memo), not
    // even a timer or an immediate: the process ends here, before the event
    // loop's next turn runs what V8 queued meanwhile (a scavenge of the heap
    // the exit frees, ~1 ms).
    // Otherwise after this callback: the request whose completion resolved
    // the command (a last rename, say) is listed as active until its
    // callback returns.
    if (code === 0 && idleNow() && !process.getActiveResourcesInfo().some((r) => r === 'Immediate' || r === 'Timeout')) exitNow();
    else if (code === 0) setImmediate(exitWhenIdle, 0);
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);

// A command that succeeded ends as soon as nothing it started is left: no
// handle but the standard streams', no request, nothing waiting in stdout
// or stderr. The natural exit ('beforeExit', above) comes later whenever V8
// still works in the background, as Node first waits for every task V8
// gave its worker threads: in bench project a's one-file rebuild, the
// marking of a heap the exit frees, started by the memo's recording after
// the last line, held the exit 6-10 ms. Only successes: zlib's and crypto's
// threadpool jobs are in no list a process can read, and a failure's
// clean-up may still wait on one (a failed pull's unpack, whose snapshot it
// removes); a success has awaited all its work. Checked a few times, a
// millisecond apart, then left to the natural exit: a command whose work
// outlives its promise (a server) is not polled.
function exitWhenIdle(checks) {
  if (idleNow()) exitNow();
  else if (checks < 20) setTimeout(exitWhenIdle, 1, checks + 1).unref();
}

// No request, no handle but an idle standard stream's (a pipe or a
// terminal, told by its fd; a file has none). Neither list holds timers or
// immediates.
function idleNow() {
  const idleStdio = (h) => h._handle?.fd >= 0 && h._handle.fd <= 2 && h.writableLength === 0;
  return process._getActiveRequests().length === 0 && process._getActiveHandles().every(idleStdio);
}

// process.exit(), its end left to runner-native/addon/exit.c: the
// process ends as soon as the 'exit' listeners ran, without Node's
// teardown (joining its threads, V8's tasks included, and disposing V8;
// ~1 ms of a build's end). Not under a profiler or coverage, which that
// teardown writes out; without the addon (no C compiler at install), as is.
function exitNow() {
  if (process.execArgv.length === 0 && !process.env.NODE_OPTIONS && !process.env.NODE_V8_COVERAGE) {
    try {
      const addon = { exports: {} };
      process.dlopen(addon, path.join(__dirname, '..', 'runner-native', 'build', 'tsbuild-addon.node'));
      // What process.exit() calls once its listeners ran: undocumented, and replaced by libraries as Node's source notes.
      process.reallyExit = (code) => addon.exports.exit(code);
    } catch { /* Node's exit */ }
  }
  process.exit();
}

// The command, after any global options (`--host ADDR build`); 'other'
// for none or a mistyped one. It names the code caches.
function commandAfterGlobals() {
  const at = commandIndex(argv);
  return at >= 0 && /^[a-z]+$/.test(argv[at]) ? argv[at] : 'other';
}

function commandIndex(args) {
  for (let i = 0; i < args.length; i++) {
    if (/^(-H|--host|--tlscacert|--tlscert|--tlskey|--ssh-identity|--ssh-command)$/.test(args[i])) i++;
    else if (!args[i].startsWith('-')) return i;
  }
  return -1;
}

function expandAlias(args) {
  const at = commandIndex(args);
  const group = at >= 0 && Object.hasOwn(COMMAND_ALIASES, args[at]) ? COMMAND_ALIASES[args[at]] : undefined;
  const target = group && Object.hasOwn(group, args[at + 1] ?? '') ? group[args[at + 1]] : undefined;
  return target ? [...args.slice(0, at), ...target, ...args.slice(at + 2)] : args;
}

function load(name, command) {
  const bundle = path.join(__dirname, '..', 'dist', 'bundle', `${name}.cjs`);
  if (!withCache) return require(bundle);
  // The bundle in CommonJS's wrapper, as scripts/bundle-cli.js wrote it:
  // one flat string, nothing for V8 to copy before it compiles.
  const wrapped = path.join(__dirname, '..', 'dist', 'bundle', `${name}.wrapped.js`);
  const cacheFile = codeCachePath(wrapped, command);
  let cachedData;
  let bytecodeAtLoad = 0;
  let cpuAtLoad = 0;
  let fileBytes = 0;
  try {
    const buf = fs.readFileSync(cacheFile);
    fileBytes = buf.length;
    ({ cachedData, bytecodeAtLoad, cpuAtLoad } = splitCacheFile(buf));
  } catch {
    // First run of this command: compiled from source, cached at the end.
  }
  // latin1: the bundle is ASCII (scripts/bundle-cli.js checks), and a
  // one-byte decode skips UTF-8's validation of ~700 KB on every start.
  const script = new vm.Script(fs.readFileSync(wrapped, 'latin1'), { filename: bundle, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle));
  loaded.push({ script, cachedData, cacheFile, fileBytes, bytecodeAtLoad, cpuAtLoad });
  return mod.exports;
}

// A cache file is V8's cached data followed by a trailer: the bytecode
// size of the run that wrote it and the CPU time of the last run that
// measured it (what outgrown() compares against; reading it here saves
// measuring the heap at every start, a ~2 ms walk). A file without the
// trailer (an older launcher's) is used as it is, and written again at the
// end (its writer's size counts as 0).
function splitCacheFile(buf) {
  if (buf.length >= TRAILER_BYTES && buf.readUInt32LE(buf.length - TRAILER_BYTES) === TRAILER_MAGIC) {
    const at = buf.length - TRAILER_BYTES;
    return { cachedData: buf.subarray(0, at), bytecodeAtLoad: Number(buf.readBigUInt64LE(at + 4)), cpuAtLoad: Number(buf.readBigUInt64LE(at + 12)) };
  }
  if (buf.length >= OLD_TRAILER_BYTES && buf.readUInt32LE(buf.length - OLD_TRAILER_BYTES) === OLD_TRAILER_MAGIC) {
    const at = buf.length - OLD_TRAILER_BYTES;
    return { cachedData: buf.subarray(0, at), bytecodeAtLoad: Number(buf.readBigUInt64LE(at + 4)), cpuAtLoad: 0 };
  }
  return { cachedData: buf, bytecodeAtLoad: 0, cpuAtLoad: 0 };
}

function cacheFileBytes(cachedData, bytecode, cpu) {
  const trailer = Buffer.alloc(TRAILER_BYTES);
  trailer.writeUInt32LE(TRAILER_MAGIC, 0);
  trailer.writeBigUInt64LE(BigInt(bytecode), 4);
  trailer.writeBigUInt64LE(BigInt(cpu), 12);
  return Buffer.concat([cachedData, trailer]);
}

// A cache holds the functions of the run that wrote it: one written by a
// short run (`build --help`, a build of one cached step) leaves a later
// no-op compiling most of what it runs, every time. When this run compiled
// more than the run that wrote its cache (bytecode on the heap grew by a
// tenth; a run that finds everything in the cache ends within a few per
// cent of its writer), the cache is written again, holding both. A tenth,
// not half again: a rebuild that ran no step (a file saved unchanged) and
// wrote the rebuild cache first leaves out what running one compiles
// (heap bytecode a fifth to a third larger: 1.2x for a FROM scratch + COPY,
// 1.37x for bench project c), which every later one-file rebuild compiled
// again (c: ~13 ms more CPU, every time). A cache only ever grows toward
// what the runs that use it need: a lower bar costs a few more rewrites,
// never a cycle.
//
// The heap walk that measures it costs 1-2 ms after the last line, so it
// is made only where growth is plausible: when this run used half again
// the CPU time noted in the trailer (compiling far more code takes time;
// a run of the same work stays near that time), after a cache written by a
// run that had none of its own (its time was mostly compiling: noted as
// 0), or, so that a cache no run outgrows in time is still caught, in one
// run of eight. A run that measured for its CPU time and kept the cache
// notes that time in the trailer for the next ones.
function outgrown(l) {
  const cpu = cpuMicros();
  const dearer = cpu > 1.5 * l.cpuAtLoad;
  if (!dearer && process.pid % 8 !== 0) return false;
  l.bytecodeAtExit = bytecodeSize();
  if (l.bytecodeAtExit > OUTGROWN_BYTECODE * l.bytecodeAtLoad) return true;
  if (dearer) noteCpuInTrailer(l, cpu);
  return false;
}

// Rewrites the trailer's CPU time in place (8 bytes, after checking that
// the file is still the one read, trailer and all); any failure only costs
// a later run a measure.
function noteCpuInTrailer(l, cpu) {
  let fd;
  try {
    fd = fs.openSync(l.cacheFile, 'r+');
    const at = l.fileBytes - TRAILER_BYTES;
    const magic = Buffer.alloc(4);
    if (at < 0 || fs.fstatSync(fd).size !== l.fileBytes || fs.readSync(fd, magic, 0, 4, at) !== 4 || magic.readUInt32LE(0) !== TRAILER_MAGIC) return;
    const field = Buffer.alloc(8);
    field.writeBigUInt64LE(BigInt(cpu));
    fs.writeSync(fd, field, 0, 8, at + 12);
  } catch {
    // read-only install, or gone meanwhile
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// This process's CPU time so far (all its threads), in microseconds.
function cpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

// Measured once at exit for all the scripts this run loaded (the lean
// bundle and the full CLI after a memo miss): each measure walks the
// heap's code, 2-4 ms.
let bytecodeAtExit;
function bytecodeSize() {
  bytecodeAtExit ??= require('node:v8').getHeapCodeStatistics().bytecode_and_metadata_size;
  return bytecodeAtExit;
}

function codeCachePath(bundle, command) {
  const st = fs.statSync(bundle);
  return path.join(path.dirname(bundle), 'v8-cache', `${st.ino}-${st.size}-${Math.floor(st.mtimeMs)}-${command}.bin`);
}

// After the command ran, so that the functions it compiled are in the cache.
function saveCodeCache(l) {
  const { script, cacheFile } = l;
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  // V8 flags the bundle set for the rest of the process (cache/v8-flags.ts
  // setUntilExit()) go back first: V8 accepts a cache only from a process
  // with the flags it was written under.
  globalThis[Symbol.for('tsbuild.restoreV8Flags')]?.();
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    // A run that compiled without a cache spent its time compiling: its CPU time says nothing of its work (0: the next run measures).
    const cpu = l.cachedData && !script.cachedDataRejected ? cpuMicros() : 0;
    fs.writeFileSync(tmp, cacheFileBytes(script.createCachedData(), l.bytecodeAtExit ?? bytecodeSize(), cpu));
    fs.renameSync(tmp, cacheFile);
  } catch {
    // A read-only install runs without a cache, only slower.
    fs.rmSync(tmp, { force: true });
  }
}
