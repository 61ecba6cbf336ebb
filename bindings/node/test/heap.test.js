'use strict';
// Heap (heap.js) against the real library: the limit, destroy() and what it
// does to the heap's Blocks (no call into C with a dead block's address,
// checked by spying on the library's functions), views that outlive destroy().
const test = require('node:test');
const assert = require('node:assert/strict');
const gb = require('graphbit-alloc');
const { collector } = require('./helpers');

const gc = collector();
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

/** Collects until `done()` holds; a WeakRef's deref() keeps its target for the
 *  rest of the task, so the check and the collection run in different tasks. */
async function collectUntil(done, what) {
  for (let i = 0; i < 200; i++) {
    if (done()) return;
    await settle();
    gc();
    await settle();
  }
  assert.ok(done(), `${what} did not happen after 200 collections`);
}

/** A Library of its own whose calls are recorded: [[name, ...args]]. */
function spiedLibrary() {
  const lib = gb.load(process.env.GRAPHBIT_ALLOC_LIB);
  const calls = [];
  const real = lib.fn;
  lib.fn = new Proxy({}, {
    get(_, name) {
      const f = real[name];
      if (typeof f !== 'function') return f;
      return (...args) => { calls.push([name, ...args]); return f(...args); };
    },
  });
  return { lib, calls };
}

const frees = (calls) => calls.filter(([name]) => name.startsWith('gb_free'));

test('the limit: OutOfMemoryError, nothing changes, the heap stays usable', () => {
  const heap = new gb.Heap({ limit: 64 * 1024 });
  const kept = [];
  for (;;) {
    try {
      kept.push(heap.alloc(4000));
    } catch (e) {
      assert.ok(e instanceof gb.OutOfMemoryError && e.code === 'ENOMEM', String(e));
      break;
    }
    assert.ok(kept.length < 1000, 'the limit never refused');
  }
  const at = heap.stats();
  assert.equal(at.limit_bytes, 64 * 1024);
  assert.ok(at.allocated_bytes <= 64 * 1024, JSON.stringify(at));
  assert.equal(at.allocated_bytes, kept.reduce((sum, b) => sum + b.usableSize(), 0));
  assert.equal(at.blocks, kept.length);
  assert.equal(at.refused, 1);
  assert.throws(() => heap.alloc(1 << 20, { zeroed: true }), gb.OutOfMemoryError);
  assert.throws(() => heap.alloc(1 << 20, { alignment: 4096 }), gb.OutOfMemoryError);
  assert.equal(heap.stats().allocated_bytes, at.allocated_bytes, 'a refused request changes nothing');
  assert.equal(heap.stats().refused, 3);
  // Still usable: free one block, the next fits.
  kept.pop().free();
  const again = heap.alloc(4000);
  again.write('still usable');
  assert.equal(again.read(0, 12).toString(), 'still usable');
  heap.destroy();
});

test('blocks of a heap: zeroed, aligned, freed one by one before destroy()', () => {
  const heap = new gb.Heap();
  const zero = heap.alloc(10000, { zeroed: true });
  assert.ok(zero.read().every((b) => b === 0));
  const aligned = heap.alloc(1000, { alignment: 4096, zeroed: true });
  assert.equal(aligned.address % 4096n, 0n);
  assert.ok(aligned.read().every((b) => b === 0));
  assert.equal(heap.stats().blocks, 2);
  zero.free();
  assert.equal(zero.released, true);
  assert.equal(heap.stats().blocks, 1);
  aligned.free();
  assert.deepEqual([heap.stats().blocks, heap.stats().allocated_bytes], [0, 0]);
  heap.destroy();
  assert.equal(heap.released, true);
});

test('destroy(): every block is dead, none reaches gb_free, a second destroy() does nothing', () => {
  const { lib, calls } = spiedLibrary();
  const heap = new gb.Heap({ library: lib });
  const blocks = [heap.alloc(100), heap.alloc(5000, { zeroed: true }), heap.alloc(64, { alignment: 64 })];
  blocks[0].write('x');
  const early = heap.alloc(32);
  early.free(); // freed on its own: gb_free_sized, before destroy
  assert.equal(frees(calls).length, 1);
  heap.destroy();
  assert.equal(heap.destroyed, true);
  assert.equal(heap.released, true);
  assert.equal(calls.filter(([name]) => name === 'gb_heap_destroy').length, 1);
  for (const block of blocks) {
    assert.equal(block.freed, true);
    for (const use of [() => block.read(), () => block.write('x'), () => block.bytes(),
                       () => block.address, () => block.usableSize()]) {
      assert.throws(use, (e) => e instanceof gb.FreedBlockError && /Heap was destroyed/.test(e.message));
    }
    block.free(); // does nothing
  }
  heap.destroy(); // does nothing
  assert.equal(calls.filter(([name]) => name === 'gb_heap_destroy').length, 1);
  assert.equal(frees(calls).length, 1, 'no gb_free after destroy');
  assert.throws(() => heap.alloc(8), (e) => e instanceof gb.HeapDestroyedError &&
                                          e instanceof gb.FreedBlockError && e.code === 'ERR_GB_HEAP_DESTROYED');
  assert.throws(() => heap.stats(), gb.HeapDestroyedError);
});

test('a block of a destroyed heap that the collector finds never reaches gb_free', async () => {
  const { lib, calls } = spiedLibrary();
  const heap = new gb.Heap({ library: lib });
  let dropped = heap.alloc(256);
  const gone = new WeakRef(dropped);
  dropped = null;
  heap.destroy();
  await collectUntil(() => gone.deref() === undefined, 'collecting the block');
  for (let i = 0; i < 3; i++) { gc(); await settle(); } // its finalizer's turn
  assert.deepEqual(frees(calls), []);
});

test('a view taken before destroy() keeps the heap until the collector finds it gone', async () => {
  const { lib, calls } = spiedLibrary();
  const heap = new gb.Heap({ library: lib });
  const block = heap.alloc(4096);
  let view = block.bytes();
  view.fill(9);
  heap.destroy();
  assert.equal(heap.destroyed, true);
  assert.equal(heap.released, false, 'gb_heap_destroy waits for the view');
  assert.ok(view.every((b) => b === 9), 'the view is still valid memory');
  assert.throws(() => block.bytes(), gb.FreedBlockError);
  view = null;
  await collectUntil(() => heap.released, 'gb_heap_destroy after the view went');
  assert.equal(calls.filter(([name]) => name === 'gb_heap_destroy').length, 1);
  assert.deepEqual(frees(calls), []);
});

test('bad limits and sizes: the language\'s own errors, nothing reaches C', () => {
  for (const limit of [-1, -1n, 2n ** 64n]) assert.throws(() => new gb.Heap({ limit }), RangeError);
  for (const limit of ['1', 1.5, null, {}]) assert.throws(() => new gb.Heap({ limit }), TypeError);
  const heap = new gb.Heap({ limit: 2n ** 64n - 1n }); // SIZE_MAX: fits, as good as none
  for (const size of [-1, 1.5, '8']) assert.throws(() => heap.alloc(size), RangeError);
  assert.throws(() => heap.alloc(2n ** 64n), RangeError);
  assert.throws(() => heap.alloc(2 ** 60), gb.OutOfMemoryError);
  assert.throws(() => heap.alloc(8, { alignment: 3 }), gb.InvalidArgumentError);
  assert.throws(() => new gb.Block(8, { heap: {} }), TypeError);
  assert.equal(heap.stats().blocks, 0);
  heap.destroy();
});

test('[Symbol.dispose] destroys (`using heap = new Heap()`)', { skip: typeof Symbol.dispose !== 'symbol' }, () => {
  const heap = new gb.Heap();
  const block = heap.alloc(8);
  heap[Symbol.dispose]();
  assert.equal(heap.released, true);
  assert.throws(() => block.read(), gb.FreedBlockError);
});

test('a Heap collected without destroy() is destroyed then, with a warning', async () => {
  const { lib, calls } = spiedLibrary();
  const warnings = [];
  const onWarning = (w) => { if (w.name === 'GraphbitAllocLeakWarning') warnings.push(w.message); };
  process.on('warning', onWarning);
  try {
    (() => { new gb.Heap({ library: lib }).alloc(100); })();
    await collectUntil(() => calls.some(([name]) => name === 'gb_heap_destroy'), 'gb_heap_destroy');
    await settle();
    assert.ok(warnings.some((m) => /Heap .* without destroy\(\)/.test(m)), warnings.join('\n'));
  } finally {
    process.off('warning', onWarning);
  }
});
