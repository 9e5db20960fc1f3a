import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, jsonForScript, scriptSafe } from './escape.js';

const HOSTILE = '</script><img src=x onerror=alert(1)> & "q" \'s\' \u2028\u2029';

test('escapeHtml escapes every markup character', () => {
  assert.equal(escapeHtml('<img src=x onerror=alert(1)>'), '&lt;img src=x onerror=alert(1)&gt;');
  assert.equal(escapeHtml(`a&b"c'd`), 'a&amp;b&quot;c&#39;d');
  assert.equal(escapeHtml(42), '42');
});

test('jsonForScript leaves no <, >, & or line separators and round-trips', () => {
  const value = { names: [HOSTILE, 'São Paulo', '東京'], n: 1.5, nested: { s: '<!--' } };
  const text = jsonForScript(value);
  assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
  assert.deepEqual(JSON.parse(text), value);
});

test('scriptSafe neutralises a closing script tag inside inlined code', () => {
  const code = 'var s = "</script><b>"; var t = "<!-- x";';
  const safe = scriptSafe(code);
  assert.doesNotMatch(safe, /<\/script/i);
  assert.doesNotMatch(safe, /<!--/);
  // Still the same JavaScript value.
  assert.equal(new Function(`${safe}; return s + t;`)(), '</script><b><!-- x');
});
