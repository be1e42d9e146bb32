// Named and anonymous volumes, kept in the store like docker's local
// driver: <store>/volumes/<name>/_data holds the files, meta.json what
// `volume inspect` shows. A volume outlives the containers that use it
// (anonymous ones go with `rm -v` and with `run --rm`).
import { randomBytes } from '../../runner-native/native-crypto.js';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ContainerError } from './errors.js';
import { validVolumeName } from './mount-spec.js';

export interface VolumeInfo {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  /** tsbuild's own: made for an image VOLUME or `-v /path` */
  anonymous?: boolean;
}

export class VolumeStore {
  constructor(readonly root: string) {}

  dataDir(name: string): string {
    return path.join(this.root, name, '_data');
  }

  private metaFile(name: string): string {
    return path.join(this.root, name, 'meta.json');
  }

  async get(name: string): Promise<VolumeInfo | undefined> {
    return readFile(this.metaFile(name), 'utf8').then((t) => JSON.parse(t) as VolumeInfo, () => undefined);
  }

  async inspect(name: string): Promise<VolumeInfo> {
    const v = await this.get(name);
    if (!v) throw new ContainerError('NO_SUCH_VOLUME', `get ${name}: no such volume`);
    return v;
  }

  /** Creates the volume unless it exists (docker's create is idempotent); returns it and whether it is new. */
  async ensure(name: string | undefined, labels: Record<string, string> = {}): Promise<{ volume: VolumeInfo; created: boolean }> {
    const anonymous = name === undefined;
    const volumeName = name === undefined ? randomBytes(32).toString('hex') : validVolumeName(name);
    const existing = await this.get(volumeName);
    if (existing) return { volume: existing, created: false };
    const temp = path.join(this.root, `.new-${volumeName}-${randomBytes(4).toString('hex')}`);
    const info: VolumeInfo = {
      CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), Driver: 'local', Labels: Object.keys(labels).length ? labels : null,
      Mountpoint: this.dataDir(volumeName), Name: volumeName, Options: null, Scope: 'local', ...(anonymous ? { anonymous: true } : {}),
    };
    await mkdir(path.join(temp, '_data'), { recursive: true, mode: 0o755 });
    await writeFile(path.join(temp, 'meta.json'), JSON.stringify(info, null, 2) + '\n');
    try {
      await rename(temp, path.join(this.root, volumeName));
      return { volume: info, created: true };
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      // someone else created it meanwhile: theirs is as good
      const raced = await this.get(volumeName);
      if (raced) return { volume: raced, created: false };
      throw err;
    }
  }

  async list(): Promise<VolumeInfo[]> {
    const names = (await readdir(this.root).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    const all = await Promise.all(names.map((n) => this.get(n)));
    return all.filter((v): v is VolumeInfo => v !== undefined).sort((a, b) => a.Name.localeCompare(b.Name));
  }

  async remove(name: string): Promise<void> {
    await this.inspect(name);
    const doomed = path.join(this.root, `.removing-${name}-${randomBytes(4).toString('hex')}`);
    await rename(path.join(this.root, name), doomed);
    await rm(doomed, { recursive: true, force: true });
  }
}
