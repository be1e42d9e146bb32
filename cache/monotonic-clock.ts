// Milliseconds on a monotonic clock, for timing short spans (when a long
// loop owes the event loop a turn). Not performance.now(): the first use
// of that global loads Node's perf_hooks modules, half a millisecond of
// every build.
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
