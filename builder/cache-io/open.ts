// Opens the place a --cache-to / --cache-from spec names.
import type { Action } from '../registry/client.js';
import { LocalCache } from './local-transport.js';
import { RegistryCache } from './registry-transport.js';
import type { CacheLocation } from './spec.js';
import type { CacheReader, CacheWriter } from './transport.js';

export async function openCacheLocation(loc: CacheLocation, storeRoot: string, actions: Action[]): Promise<CacheReader & CacheWriter> {
  if (loc.type === 'local') return new LocalCache(loc.dir, loc.tag);
  return RegistryCache.open(loc.ref, storeRoot, actions);
}
