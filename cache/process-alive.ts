// Temp dirs, leases and mount points carry their creator's pid, so the next
// start can tell a dead tsbuild's leftovers from a concurrent build's.
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// `<label>-<pid>-<random>` → pid, or undefined for names of another shape.
export function pidOfTempName(name: string): number | undefined {
  const m = /-(\d+)-[0-9a-f]+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
