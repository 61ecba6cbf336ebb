'use strict';
// The quick start in the READMEs is examples/quickstart.js, which runs.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { PACKAGE, REPO, markedSnippets } = require('./helpers');

const EXAMPLE = 'bindings/node/examples/quickstart.js';

test('README snippets marked with the example are the example, word for word', () => {
  const example = fs.readFileSync(path.join(REPO, EXAMPLE), 'utf8');
  let checked = 0;
  for (const readme of [path.join(PACKAGE, 'README.md'), path.join(REPO, 'README.md')]) {
    for (const { example: name, code } of markedSnippets(readme)) {
      if (name !== EXAMPLE) continue;
      assert.equal(code, example, `${readme}: the snippet differs from ${EXAMPLE}`);
      checked += 1;
    }
  }
  assert.ok(checked >= 1, `no README snippet is marked <!-- example: ${EXAMPLE} -->`);
});

test('examples/quickstart.js runs and prints what its comments say', () => {
  const out = execFileSync(process.execPath, [path.join(REPO, EXAMPLE)], { encoding: 'utf8' });
  assert.equal(out, `hello\n${require('graphbit-alloc').allocatorName()} true true\n`);
});
