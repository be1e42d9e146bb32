/**
 * Where build variables (`$VAR`, `${VAR:-x}`) are expanded, as data for the
 * graph builder. BuildKit's documentation ("Environment replacement") lists
 * the instructions ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER,
 * VOLUME, WORKDIR and ONBUILD (when its trigger is one of those); in
 * addition, its frontend expands ARG names/defaults and the values of
 * several flags (RUN --mount fields, COPY/ADD --chown/--chmod, ADD
 * --checksum, COPY --from, FROM --platform with the meta ARGs).
 *
 * RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK commands are *not* expanded by
 * the builder: the shell in the container does it at run time. Exec-form
 * arguments are never expanded.
 */
import type { InstructionKind } from './types.js';

/** Instructions whose arguments the builder expands (BuildKit's documented list). */
export const ENV_REPLACEMENT_INSTRUCTIONS: ReadonlySet<InstructionKind> = new Set<InstructionKind>([
  'ADD',
  'COPY',
  'ENV',
  'EXPOSE',
  'FROM',
  'LABEL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
  'ONBUILD',
]);

/**
 * Per instruction, the typed fields that hold raw text to pass through the
 * word expander (field names of the typed instruction). `sources` means the
 * `path` of every path source and, for heredoc sources whose `expand` is
 * true, the heredoc `content`. RUN's `mounts` are re-parsed with
 * `parseMount(raw, expand)`. ONBUILD is expanded when its trigger runs in a
 * child build, not in this one.
 */
export const EXPANDED_FIELDS: Readonly<Partial<Record<InstructionKind, readonly string[]>>> = {
  FROM: ['image', 'platform'],
  ARG: ['key', 'value'],
  ENV: ['key', 'value'],
  LABEL: ['key', 'value'],
  EXPOSE: ['ports'],
  STOPSIGNAL: ['signal'],
  USER: ['user'],
  VOLUME: ['paths'],
  WORKDIR: ['path'],
  COPY: ['sources', 'destination', 'chown', 'chmod', 'from'],
  ADD: ['sources', 'destination', 'chown', 'chmod', 'checksum'],
  RUN: ['mounts'],
};

/** True when `kind`'s arguments go through the expander. */
export function expandsVariables(kind: InstructionKind): boolean {
  return EXPANDED_FIELDS[kind] !== undefined;
}
