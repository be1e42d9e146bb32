// Container ids (64 hex, shown as 12) and names (given, or adjective_noun
// like Docker's). Names follow Docker's rule so scripts written for docker work.
import { randomBytes, randomInt } from 'node:crypto';
import { ContainerError } from './errors.js';

const NAME_RULE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const ADJECTIVES = [
  'admiring', 'brave', 'busy', 'calm', 'clever', 'cool', 'eager', 'elated', 'focused', 'gentle',
  'happy', 'hungry', 'jolly', 'keen', 'kind', 'lucid', 'modest', 'nifty', 'peaceful', 'quirky',
  'relaxed', 'serene', 'sharp', 'stoic', 'sweet', 'tender', 'upbeat', 'vibrant', 'wizardly', 'zealous',
];
const NOUNS = [
  'babbage', 'bohr', 'curie', 'darwin', 'dijkstra', 'euler', 'fermi', 'gauss', 'hopper', 'hypatia',
  'kepler', 'knuth', 'lamport', 'lovelace', 'mccarthy', 'meitner', 'noether', 'pascal', 'ritchie', 'shannon',
  'thompson', 'torvalds', 'turing', 'wozniak', 'yalow',
];

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export function shortContainerId(id: string): string {
  return id.slice(0, 12);
}

/** `adjective_noun`; after a few collisions a digit is appended, as Docker does. */
export function randomName(attempt = 0): string {
  const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
  return attempt < 5 ? base : `${base}${randomInt(10)}`;
}

export function validateName(name: string): string {
  const clean = name.replace(/^\//, '');
  if (!NAME_RULE.test(clean)) {
    throw new ContainerError('INVALID_NAME', `invalid container name "${name}", only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return clean;
}
