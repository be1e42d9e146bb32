// docker's management-command spellings of tsbuild's top-level commands:
// `image ls` is `images`, `buildx build` is `build`, `builder prune` is
// `prune`, ... so that a script written for docker runs unchanged.
// bin/tsbuild.js rewrites them before it chooses what to load (a test
// keeps its copy of this table alike): `buildx build` is then answered
// from the store's memo, and `-H HOST image ls` runs on the server, as
// their top-level forms are. The subcommands that have no top-level form
// (`image prune`, `system prune`) are commands/management.ts's.

export const COMMAND_ALIASES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  image: {
    build: ['build'], history: ['history'], import: ['import'], inspect: ['inspect', '--type', 'image'],
    load: ['load'], ls: ['images'], list: ['images'], pull: ['pull'], push: ['push'],
    rm: ['rmi'], remove: ['rmi'], save: ['save'], tag: ['tag'],
  },
  builder: { build: ['build'], prune: ['prune'] },
  buildx: { build: ['build'], b: ['build'], du: ['du'], prune: ['prune'], version: ['version'] },
  system: { df: ['du'], info: ['info'] },
};

/** `argv` (from the command on) with a management spelling replaced by its top-level form. */
export function expandCommandAlias(argv: readonly string[]): string[] {
  const [group, sub, ...rest] = argv;
  const target = group !== undefined && sub !== undefined && Object.hasOwn(COMMAND_ALIASES, group) && Object.hasOwn(COMMAND_ALIASES[group]!, sub)
    ? COMMAND_ALIASES[group]![sub]!
    : undefined;
  return target ? [...target, ...rest] : [...argv];
}
