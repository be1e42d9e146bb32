// The certificates a TLS connection trusts: Node's bundled roots plus the
// user's NODE_EXTRA_CA_CERTS file, read on the first TLS connection rather
// than at process start. Node 20 parses that file (and its own ~140 roots)
// before any JavaScript runs, ~35 ms for a 220 KB system bundle — a fifth
// of a no-op build — even for commands that never open a TLS connection.
// So the `tsbuild` launcher (bin/tsbuild) hands the path over in
// TSBUILD_EXTRA_CA_CERTS instead, and every HTTPS client here asks this
// module for its `ca` list.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

let loaded: { ca: string[] | undefined } | undefined;

/**
 * The `ca` option for a TLS client: undefined when Node's defaults apply
 * (no deferred file, or Node loaded NODE_EXTRA_CA_CERTS itself).
 */
export function trustedCas(): string[] | undefined {
  if (loaded) return loaded.ca;
  const file = process.env.NODE_EXTRA_CA_CERTS ? undefined : process.env.TSBUILD_EXTRA_CA_CERTS;
  loaded = { ca: undefined };
  if (!file) return undefined;
  try {
    const pems = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    loaded.ca = [...tls.rootCertificates, ...pems];
  } catch (err) {
    // Node's own words and behaviour for an unreadable file: warn, go on with the defaults.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
  }
  return loaded.ca;
}
