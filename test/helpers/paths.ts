// Where the project is, for tests and for bench scripts (which run outside
// ava, so this module must not import it).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/helpers → project root
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const TSBUILD_BIN = path.join(PROJECT_ROOT, 'bin/tsbuild.js');
export const FIXTURES = path.join(PROJECT_ROOT, 'fixtures');
