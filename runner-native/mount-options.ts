// Turns mount(8)-style option words into the (flags, propagation, data)
// triple mount(2) wants, so the C helper never has to parse them.

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64,
  DIRSYNC: 128, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, REC: 16384,
  UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19, SHARED: 1 << 20,
  RELATIME: 1 << 21, STRICTATIME: 1 << 24,
} as const;

// [flags to set, flags to clear]
const FLAG_WORDS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0], rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0], suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0], dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0], exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0], async: [0, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0],
  mand: [MS.MANDLOCK, 0], nomand: [0, MS.MANDLOCK],
  noatime: [MS.NOATIME, 0], atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0], diratime: [0, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0], norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0], nostrictatime: [0, MS.STRICTATIME],
  bind: [MS.BIND, 0], rbind: [MS.BIND | MS.REC, 0],
};

const PROPAGATION_WORDS: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  /** filesystem-specific options (mode=755, size=64m, ...), comma-joined */
  data: string;
}

export function parseMountOptions(options: readonly string[] = [], isBind = false): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const word of options) {
    const flag = FLAG_WORDS[word];
    const prop = PROPAGATION_WORDS[word];
    if (flag) flags = (flags | flag[0]) & ~flag[1];
    else if (prop !== undefined) propagation |= prop;
    else data.push(word);
  }
  // Docker binds recursively unless told `bind`: a bind of /x that silently
  // hid /x's submounts would surprise more than it protects.
  if (isBind && !(flags & MS.BIND)) flags |= MS.BIND | MS.REC;
  return { flags, propagation, data: data.join(',') };
}
