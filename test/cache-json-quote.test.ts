import test from 'ava';
import { jsonQuote } from '../cache/json-quote.js';

test('jsonQuote is JSON.stringify for every kind of string', (t) => {
  const samples = ['', 'plain/name.txt', 'quote"', 'back\\slash', 'nl\nx', 'tab\t', '\u0000', '\u001f', '\u007f', 'é', '\u2028', '\u{1F600}', 'lone\ud800', '\udfffx', 'a\ud83d'];
  for (let code = 0; code < 0x10000; code += 7) samples.push(`x${String.fromCharCode(code)}y`);
  for (const s of samples) t.is(jsonQuote(s), JSON.stringify(s), JSON.stringify(s));
});
