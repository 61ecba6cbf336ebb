'use strict';
// Concurrent use: worker threads (each its own isolate, its own koffi and the
// one library) allocate, write, check and free at the same time as the main
// thread, and blocks allocated by one thread are freed by another.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('worker_threads');
const gb = require('graphbit-alloc');

const WORK = `
const { parentPort, workerData } = require('worker_threads');
const gb = require(workerData.module);
const { seed, rounds } = workerData;
const held = [];
for (let i = 0; i < rounds; i++) {
  const size = (seed * 7919 + i * 104729) % 20000;
  const block = new gb.Block(size, { zeroed: i % 3 === 0 });
  const n = Math.min(size, 8);
  block.bytes().fill(seed, 0, n);
  held.push(block);
  if (held.length > 50) {
    const old = held.shift();
    const k = Math.min(old.size, 8);
    if (!old.read(0, k).every((b) => b === seed)) throw new Error('worker ' + seed + ': block changed');
    old.free();
  }
}
for (const block of held) block.free();
// Blocks for the main thread to free: any thread may free any block.
const lib = gb.library();
const handed = [];
for (let i = 0; i < 100; i++) {
  const p = lib.fn.gb_alloc(1000 + i);
  lib.fn.gb_free_sized(lib.fn.gb_alloc(10), 10);
  handed.push(p);
}
parentPort.postMessage({ handed });
`;

function runWorker(seed, rounds) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORK, { eval: true, workerData: { module: require.resolve('graphbit-alloc'), seed, rounds } });
    let message;
    worker.on('message', (m) => { message = m; });
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 && message ? resolve(message) : reject(new Error(`worker ${seed} exited ${code}`))));
  });
}

test('worker threads and the main thread allocate and free at once; cross-thread frees', async () => {
  const workers = [1, 2, 3, 4].map((seed) => runWorker(seed, 3000));
  // The main thread works meanwhile.
  for (let i = 0; i < 3000; i++) {
    const block = new gb.Block(i % 5000 + 1);
    block.write(Buffer.from([i & 0xff]));
    assert.equal(block.read(0, 1)[0], i & 0xff);
    block.free();
  }
  const results = await Promise.all(workers);
  const lib = gb.library();
  for (const { handed } of results) {
    assert.equal(handed.length, 100);
    for (const p of handed) {
      assert.equal(typeof p, 'bigint');
      assert.ok(lib.fn.gb_usable_size(p) >= 1000);
      lib.fn.gb_free(p);
    }
  }
  // Once every thread is done: on the system backend, gb_verify reads glibc's
  // process-wide counters, which other threads' allocations move.
  assert.equal(gb.verify(), true);
});
