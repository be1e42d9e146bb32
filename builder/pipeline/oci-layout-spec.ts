// `--build-context NAME=oci-layout://DIR[@TAG]`, taken apart: read locally,
// and by a remote client that sends the directory to its server.

/** `oci-layout://DIR[@TAG]` → its directory and tag; undefined for any other value. */
export function ociLayoutOf(value: string): { dir: string; tag?: string } | undefined {
  if (!value.startsWith('oci-layout://')) return undefined;
  const spec = value.slice('oci-layout://'.length);
  const at = spec.lastIndexOf('@');
  return at < 0 ? { dir: spec } : { dir: spec.slice(0, at), tag: spec.slice(at + 1) };
}
