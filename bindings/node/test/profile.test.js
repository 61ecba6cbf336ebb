'use strict';
// The profile wrappers (profileStart, profileStop, profileDump) against the
// profiling library: $GB_PROFILING_LIB, default libgraphbit_alloc_profiling.so
// beside $GRAPHBIT_ALLOC_LIB (the CMake build makes both; "skip" skips). That
// library is the initial-exec build, which a running process cannot dlopen:
// the test runs in a child node preloading it, so that koffi.load finds it
// already loaded. The ENOTSUP answer of the other libraries is checked in
// binding.test.js.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function profilingLibrary() {
  const given = process.env.GB_PROFILING_LIB;
  if (given === 'skip') return null;
  if (given) return path.resolve(given);
  const beside = process.env.GRAPHBIT_ALLOC_LIB;
  assert.ok(beside, 'set GRAPHBIT_ALLOC_LIB or GB_PROFILING_LIB');
  return path.join(path.dirname(path.resolve(beside)), 'libgraphbit_alloc_profiling.so');
}

const CHILD = `
const assert = require('node:assert/strict');
const fs = require('fs');
const gb = require(${JSON.stringify(path.join(__dirname, '..'))});
const lib = gb.load(process.env.GB_PROFILING_LIB);
const dir = process.argv[1];
lib.profileStart(4096);
assert.throws(() => lib.profileStart(0), (e) => e.errno === 16 /* EBUSY */);
const blocks = [];
for (let i = 0; i < 1000; i++) blocks.push(lib.fn.gb_alloc(1000));
lib.profileDump(dir + '/heap.pb.gz');
lib.profileDump(dir + '/heap.pb.gz.peak', { peak: true });
for (const file of ['heap.pb.gz', 'heap.pb.gz.peak']) {
  const head = fs.readFileSync(dir + '/' + file).subarray(0, 2);
  assert.deepEqual([...head], [0x1f, 0x8b], file + ' is not gzip');
}
assert.throws(() => lib.profileDump(dir + '/no/such/dir'), (e) => e.errno === 2 /* ENOENT */);
lib.profileStop();
assert.throws(() => lib.profileStop(), (e) => e.errno === 22 /* EINVAL */);
for (const b of blocks) lib.fn.gb_free(b);
console.log('profile ok');
`;

const lib = profilingLibrary();
test('the profile wrappers work against the profiling library', { skip: lib === null && 'GB_PROFILING_LIB=skip' }, () => {
  assert.ok(fs.existsSync(lib), `no profiling library at ${lib} (build it: cmake --build --preset default; or set GB_PROFILING_LIB)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gb-node-profile-'));
  try {
    const child = spawnSync(process.execPath, ['-e', CHILD, dir], {
      env: { ...process.env, LD_PRELOAD: lib, GB_PROFILING_LIB: lib },
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, `child failed:\n${child.stdout}\n${child.stderr}`);
    assert.match(child.stdout, /profile ok/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
