// Running one operation against the endpoints of a registry in order:
// mirrors first (any failure there moves on), the registry itself last
// (its error is the one the user sees).

import path from 'node:path';
import type { ImageStore } from '../image/store.js';
import { endpointsFor, loadRegistrySettings, type Endpoint, type RegistrySettings } from './settings.js';

export async function settingsFor(images: ImageStore | undefined, given: RegistrySettings | undefined): Promise<RegistrySettings> {
  if (given) return given;
  // The images folder sits directly under the store root, next to registries.json.
  return loadRegistrySettings(images ? path.dirname(images.dir) : undefined);
}

export async function withPullEndpoints<T>(registry: string, settings: RegistrySettings, fn: (endpoint: Endpoint) => Promise<T>): Promise<T> {
  const endpoints = endpointsFor(registry, settings, 'pull');
  for (const endpoint of endpoints.slice(0, -1)) {
    try {
      return await fn(endpoint);
    } catch {
      // A mirror that lacks the image or is down is not an error: the registry is next.
    }
  }
  return fn(endpoints[endpoints.length - 1]!);
}
