'use strict';
// Finding the library, as the Python binding does: the path argument,
// $GRAPHBIT_ALLOC_LIB, next to the package, the system's path; and the
// errors that say what was tried.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const gb = require('graphbit-alloc');
const { PACKAGE } = require('./helpers');

const DLOPEN_LIB = process.env.GRAPHBIT_ALLOC_LIB;
// The initial-exec library (test.sh and ctest set it); where it is not set,
// the file beside the dlopen one.
const INITIAL_EXEC_LIB = process.env.GB_INITIAL_EXEC_LIB ||
  path.join(path.dirname(DLOPEN_LIB || '.'), 'libgraphbit_alloc.so');

function node(code, env, cwd) {
  const clean = { ...process.env };
  delete clean.GRAPHBIT_ALLOC_LIB;
  delete clean.NODE_TEST_CONTEXT;
  const result = spawnSync(process.execPath, ['-e', code], {
    env: { ...clean, ...env }, cwd, encoding: 'utf8', timeout: 60000,
  });
  return result;
}

test('$GRAPHBIT_ALLOC_LIB is set for these tests', () => {
  assert.ok(DLOPEN_LIB && fs.existsSync(DLOPEN_LIB), `GRAPHBIT_ALLOC_LIB=${DLOPEN_LIB}`);
});

test('an explicit path loads that library; a bad one says what was tried', () => {
  const lib = gb.load(DLOPEN_LIB);
  assert.equal(lib.path, DLOPEN_LIB);
  assert.equal(lib.allocatorName(), gb.allocatorName());
  assert.throws(() => gb.load('/nonexistent/libgraphbit_alloc_dlopen.so'), (e) =>
    e instanceof gb.LibraryLoadError && e.code === 'ERR_GB_LIBRARY_NOT_FOUND' &&
    e.message.includes('/nonexistent/libgraphbit_alloc_dlopen.so (the path argument)'));
});

test('the initial-exec library: loaded, or the static TLS error explained', () => {
  assert.ok(fs.existsSync(INITIAL_EXEC_LIB), `no initial-exec library at ${INITIAL_EXEC_LIB}`);
  let lib;
  try {
    lib = gb.load(INITIAL_EXEC_LIB);
  } catch (e) {
    assert.ok(e instanceof gb.LibraryLoadError, String(e));
    assert.match(e.message, /static TLS/);
    assert.match(e.message, /load libgraphbit_alloc_dlopen.so instead/);
    return;
  }
  // glibc had room for its TLS after all (a larger static TLS surplus).
  assert.equal(lib.verify(), true);
});

test('$GRAPHBIT_ALLOC_LIB wins, and a wrong one is reported', () => {
  const r = node(`require(${JSON.stringify(PACKAGE)}).verify()`, { GRAPHBIT_ALLOC_LIB: '/nonexistent/gb.so' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot load the library, tried \/nonexistent\/gb.so \(\$GRAPHBIT_ALLOC_LIB\)/);
});

test('a library next to the package is found; with none anywhere, the error says where it looked', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gb-node-'));
  try {
    for (const file of ['index.js', 'heap.js', 'platform.js']) fs.copyFileSync(path.join(PACKAGE, file), path.join(dir, file));
    fs.symlinkSync(path.join(PACKAGE, 'node_modules'), path.join(dir, 'node_modules'));
    const show = 'const gb = require("./index.js"); console.log(gb.library().path, gb.verify())';
    const env = { LD_LIBRARY_PATH: '' };
    const none = node(show, env, dir);
    if (none.status === 0) {
      // Installed on the system's path: then that is what was found.
      assert.match(none.stdout, /libgraphbit_alloc_dlopen/);
    } else {
      assert.match(none.stderr, /cannot load the library: no prebuilt library for .*Tried .*the system library path/);
    }
    fs.copyFileSync(DLOPEN_LIB, path.join(dir, 'libgraphbit_alloc_dlopen.so.0.1.0'));
    const beside = node(show, env, dir);
    assert.equal(beside.status, 0, beside.stderr);
    assert.equal(beside.stdout.trim(), `${path.join(dir, 'libgraphbit_alloc_dlopen.so.0.1.0')} true`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
