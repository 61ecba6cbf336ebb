'use strict';
// The Node.js binding against a real library: $GRAPHBIT_ALLOC_LIB (test.sh
// and ctest set it to the dlopen variant CMake built); $GB_EXPECT_BACKEND,
// when set, is the backend it must report.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const koffi = require('koffi');
const gb = require('graphbit-alloc');
const { HEADER, MiB, headerFunctions, collector } = require('./helpers');

const gc = collector();
// gb_stats' allocated is live bytes, except on mimalloc: an upper bound that
// freeing does not lower (include/graphbit_alloc.h).
const LIVE_BYTES = gb.allocatorName() !== 'mimalloc';
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

/** Collects until `done()` holds (finalization callbacks run as later tasks). */
async function collectUntil(done, what) {
  for (let i = 0; i < 200 && !done(); i++) {
    gc();
    await settle();
  }
  assert.ok(done(), `${what} did not happen after 200 collections`);
}

test('SIGNATURES declares every function of the header, with its parameter count', () => {
  const declared = headerFunctions();
  assert.ok(Object.keys(declared).length >= 13, JSON.stringify(declared));
  assert.deepEqual(Object.keys(gb.SIGNATURES).sort(), Object.keys(declared).sort());
  const lib = gb.library();
  for (const [name, count] of Object.entries(declared)) {
    assert.equal(lib.fn[name].info.arguments.length, count, name);
  }
});

test('identity: backend, versions as the header says', () => {
  const name = gb.allocatorName();
  assert.ok(['jemalloc', 'mimalloc', 'system'].includes(name), name);
  if (process.env.GB_EXPECT_BACKEND) assert.equal(name, process.env.GB_EXPECT_BACKEND);
  assert.ok(gb.allocatorVersion().length > 0);
  const header = fs.readFileSync(HEADER, 'utf8');
  const version = header.match(/#define GB_VERSION_STRING "([^"]+)"/)[1];
  assert.equal(gb.version(), version);
  const [major, minor, patch] = version.split('.').map(Number);
  assert.equal(gb.versionNumber(), major * 10000 + minor * 100 + patch);
  assert.ok(gb.library().path);
});

test('verify() is true and the report passes every check', () => {
  assert.equal(gb.verify(), true);
  const report = gb.verifyReport();
  assert.equal(report.passed, true);
  assert.equal(report.backend, gb.allocatorName());
  assert.ok(report.checks.length > 0 && report.checks.every((check) => check.passed));
  assert.ok(gb.backendStatsText().length > 20);
});

test('allocate, write, read back, free; a freed block refuses access', () => {
  const block = new gb.Block(1000);
  assert.equal(block.size, 1000);
  assert.ok(block.usableSize() >= 1000);
  assert.equal(block.write(Buffer.alloc(1000, 0x5a)), 1000);
  assert.deepEqual(block.read(), Buffer.alloc(1000, 0x5a));
  block.write('graphbit', 10);
  assert.equal(block.read(10, 8).toString(), 'graphbit');
  assert.throws(() => block.write('x', 1000), RangeError);
  assert.throws(() => block.read(999, 2), RangeError);
  block.free();
  assert.equal(block.freed, true);
  assert.equal(block.released, true, 'a block never viewed goes back at free()');
  block.free(); // a second free does nothing
  for (const use of [() => block.read(), () => block.write('x'), () => block.bytes(),
                     () => block.arrayBuffer(), () => block.buffer(), () => block.address,
                     () => block.usableSize()]) {
    assert.throws(use, (e) => e instanceof gb.FreedBlockError && e.code === 'ERR_GB_BLOCK_FREED' &&
                               /freed/.test(e.message));
  }
});

test('views: the same ArrayBuffer each call, writes through views seen by read()', () => {
  gb.withBlock(64, (block) => {
    assert.strictEqual(block.arrayBuffer(), block.arrayBuffer());
    const bytes = block.bytes();
    bytes.fill(7);
    block.buffer().write('hi', 3);
    assert.equal(bytes.length, 64);
    const copy = block.read();
    assert.equal(copy[0], 7);
    assert.equal(copy.subarray(3, 5).toString(), 'hi');
    assert.equal(koffi.address(block.bytes()), block.address, 'a view, not a copy');
  });
  const empty = new gb.Block(0);
  assert.equal(empty.bytes().length, 0);
  assert.equal(empty.read().length, 0);
  empty.free();
});

test('zeroed blocks are zero (gb_calloc), even where dirty blocks were', () => {
  for (let i = 0; i < 20; i++) {
    const dirty = new gb.Block(8192);
    dirty.write(Buffer.alloc(8192, 0xa5));
    dirty.free();
    const zero = new gb.Block(8192, { zeroed: true });
    assert.ok(zero.read().every((b) => b === 0));
    zero.free();
  }
});

test('aligned blocks: address a multiple of the alignment, zeroed on request', () => {
  for (const alignment of [64, 4096, 1 << 16]) {
    const block = new gb.Block(1000, { alignment, zeroed: true });
    assert.equal(block.address % BigInt(alignment), 0n, `alignment ${alignment}`);
    assert.ok(block.read().every((b) => b === 0));
    block.write(Buffer.alloc(1000, 1));
    assert.ok(block.read().every((b) => b === 1));
    block.free();
  }
});

test('errors: ENOMEM is OutOfMemoryError (a RangeError), EINVAL is InvalidArgumentError (a TypeError)', () => {
  const half = 2n ** 64n / 2n - 1n; // SIZE_MAX / 2 = PTRDIFF_MAX
  for (const size of [half, 2n ** 63n, Number.MAX_SAFE_INTEGER]) {
    assert.throws(() => new gb.Block(size), (e) =>
      e instanceof gb.OutOfMemoryError && e instanceof RangeError && e.code === 'ENOMEM' &&
      e.errno === 12 && /out of memory/.test(e.message));
    assert.throws(() => new gb.Block(size, { zeroed: true }), gb.OutOfMemoryError);
    assert.throws(() => new gb.Block(size, { alignment: 64 }), gb.OutOfMemoryError);
  }
  for (const alignment of [0, 3, 48]) {
    assert.throws(() => new gb.Block(8, { alignment }), (e) =>
      e instanceof gb.InvalidArgumentError && e instanceof TypeError && e.code === 'EINVAL');
  }
  assert.throws(() => new gb.Block(-1), RangeError);
  assert.throws(() => new gb.Block(1.5), RangeError);
});

test('sizes that do not fit a size_t are refused before they reach C (no block cut modulo 2^64)', () => {
  // 2^64 + 64 would be 64 bytes in C while size said 2^64 + 64, and write()'s
  // range check would let writes run past the block.
  for (const size of [2n ** 64n + 64n, 2n ** 64n + 16n, 2n ** 64n, 2n ** 65n]) {
    assert.throws(() => new gb.Block(size), (e) => e instanceof RangeError && /size_t/.test(e.message));
    assert.throws(() => new gb.Block(size, { zeroed: true }), RangeError);
    assert.throws(() => new gb.Block(8, { alignment: size }), RangeError);
  }
  for (const size of [2n ** 64n - 1n, 2n ** 53n, BigInt(Number.MAX_SAFE_INTEGER) + 1n]) {
    assert.throws(() => new gb.Block(size), gb.OutOfMemoryError);
  }
  for (const bad of [NaN, Infinity, -Infinity, '64', null, {}, -1n]) {
    assert.throws(() => new gb.Block(bad), RangeError, String(bad));
  }
  // A block that did get allocated has exactly the size asked for.
  const block = new gb.Block(64n);
  assert.equal(block.size, 64);
  assert.equal(block.bytes().length, 64);
  assert.throws(() => block.write(Buffer.alloc(65)), RangeError);
  block.free();
});

test('stats() follows a large block', async () => {
  const size = 64 * MiB;
  const before = gb.stats();
  for (const value of Object.values(before)) {
    assert.ok(value === null || value >= 0);
  }
  assert.notEqual(before.allocated, null);
  const block = new gb.Block(size);
  let bytes = block.bytes();
  for (let at = 0; at < size; at += 4096) bytes[at] = 1; // touch every page
  const during = gb.stats(); // no finalization callback runs before the first await
  const grew = during.allocated - before.allocated;
  assert.ok(during.allocated >= size, `allocated ${during.allocated}`);
  if (LIVE_BYTES) assert.ok(grew >= size * 0.95, `allocated grew by ${grew}, not ~${size}`);
  if (during.resident !== null) {
    assert.ok(during.resident - before.resident >= size * 0.9,
              `resident grew by ${during.resident - before.resident}, not ~${size}`);
  }
  block.free();
  bytes = null; // the view: the block goes back once it is collected
  await collectUntil(() => block.released, 'the release of the large block');
  const after = gb.stats();
  assert.ok(after.peak_resident >= size);
  if (LIVE_BYTES) assert.ok(after.allocated < during.allocated - size / 2, 'allocated did not fall after free()');
  gb.trim();
  gb.threadIdle(); // throws on a non-zero result
  new gb.Block(64).free(); // a hint only: allocating goes on
});

test('a freed block whose view is still reachable is released only once the view is collected', async () => {
  // Other tests' freed blocks may go back meanwhile (their views collected):
  // the figures below only fall for that, never rise.
  const size = 32 * MiB;
  let block = new gb.Block(size);
  let kept = block.bytes();
  kept[0] = 42;
  block.free();
  assert.equal(block.freed, true);
  assert.throws(() => block.bytes(), gb.FreedBlockError);
  assert.equal(block.released, false);
  gc();
  await settle();
  assert.equal(kept[0], 42, 'the kept view is still valid memory');
  assert.equal(block.released, false);
  const during = gb.stats().allocated;
  assert.ok(during >= size, `allocated ${during} while the view is kept`);
  kept = null;
  await collectUntil(() => block.released, 'the release after the view went');
  const after = gb.stats().allocated;
  if (LIVE_BYTES) assert.ok(after <= during - size * 0.95, `allocated ${during} -> ${after}`);
  block = null;
});

test('a Block collected without free() is released and warned about', async () => {
  const warnings = [];
  const listener = (w) => { if (w.name === 'GraphbitAllocLeakWarning') warnings.push(w.message); };
  process.on('warning', listener);
  try {
    (() => { new gb.Block(12345).write('forgotten'); })();
    await collectUntil(() => warnings.length > 0, 'the leak warning');
    assert.match(warnings[0], /12345 bytes/);
  } finally {
    process.off('warning', listener);
  }
});

test('a runtime that forbids external buffers: views throw a clear error, copies still work', () => {
  const view = koffi.view;
  koffi.view = () => { throw new Error('External buffers are not allowed'); };
  try {
    const block = new gb.Block(4096, { alignment: 256, zeroed: true });
    assert.throws(() => block.bytes(), (e) =>
      e instanceof gb.ExternalBuffersForbiddenError && e.code === 'ERR_GB_EXTERNAL_BUFFERS_FORBIDDEN' &&
      /read\(\) and block.write\(\)/.test(e.message));
    assert.ok(block.read().every((b) => b === 0), 'zeroed without a view');
    block.write('copied');
    assert.equal(block.read(0, 6).toString(), 'copied');
    block.free();
    assert.equal(block.released, true);
  } finally {
    koffi.view = view;
  }
});

test('owns(): blocks yes, JavaScript memory and null no', () => {
  const block = new gb.Block(100);
  const owned = gb.owns(block);
  assert.equal(owned, gb.allocatorName() !== 'system');
  assert.equal(gb.owns(block.address), owned);
  block.free();
  assert.equal(gb.owns(koffi.address(Buffer.alloc(100))), false);
  assert.equal(gb.owns(null), false);
});

test('Symbol.dispose frees, where the runtime has it', (t) => {
  if (typeof Symbol.dispose !== 'symbol') {
    t.skip(`Node ${process.version} has no Symbol.dispose`);
    return;
  }
  const block = new gb.Block(10);
  block[Symbol.dispose]();
  assert.equal(block.freed, true);
});

test('withBlock frees when the callback returns, throws, or its promise settles', async () => {
  let seen;
  assert.equal(gb.withBlock(8, (b) => { seen = b; return 5; }), 5);
  assert.equal(seen.freed, true);
  assert.throws(() => gb.withBlock(8, { zeroed: true }, (b) => { seen = b; throw new Error('boom'); }), /boom/);
  assert.equal(seen.freed, true);
  const result = await gb.withBlock(8, async (b) => { seen = b; await settle(); return b.freed; });
  assert.equal(result, false);
  assert.equal(seen.freed, true);
});

test('the gb_profile_* wrappers throw ENOTSUP from a library built without profiling', () => {
  const ENOTSUP = 95; // Linux
  assert.throws(() => gb.profileStart(0), (e) => e.errno === ENOTSUP);
  assert.throws(() => gb.profileStop(), (e) => e.errno === ENOTSUP);
  assert.throws(() => gb.profileDump('/nonexistent/heap.pb.gz'), (e) => e.errno === ENOTSUP);
  assert.throws(() => gb.profileDump('/nonexistent/heap.pb.gz', { peak: true }), (e) => e.errno === ENOTSUP);
});
