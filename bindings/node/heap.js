'use strict';
/**
 * Heap: a gb_heap (include/graphbit_alloc.h, docs/heaps.md) whose Blocks are
 * all freed at once by destroy(). index.js passes in what it shares (the
 * Block class, the errors, release()) and re-exports Heap.
 *
 * After destroy() every Block of the heap is freed: its methods throw
 * FreedBlockError, its free() does nothing, and no call with its address
 * reaches C again. As for Block.free(), a view (arrayBuffer(), bytes(),
 * buffer()) taken earlier stays valid memory: gb_heap_destroy runs once no
 * view of any of the heap's blocks is reachable (at once when none was
 * taken; `heap.released` tells). A second destroy() does nothing.
 *
 * A Heap belongs to the thread (main or Worker) that made it, like every
 * object of this module; the library allows any thread, but JavaScript
 * objects cannot be shared between isolates.
 */

module.exports = function heapModule(shared) {
  const { koffi, Block, GbHeapStats, FreedBlockError, SIZE_MAX, library } = shared;

  const HEAP_STATS = ['limit_bytes', 'allocated_bytes', 'peak_allocated_bytes', 'blocks', 'refused'];

  class HeapDestroyedError extends FreedBlockError {
    constructor(message) {
      super(message);
      this.name = 'HeapDestroyedError';
      this.code = 'ERR_GB_HEAP_DESTROYED';
    }
  }

  /** A limit as a size_t: TypeError for a non-integer, RangeError outside 0..SIZE_MAX. */
  function toLimit(value) {
    let exact;
    if (typeof value === 'bigint') exact = value;
    else if (typeof value === 'number' && Number.isInteger(value)) exact = BigInt(value);
    else throw new TypeError(`limit must be an integer (Number or BigInt) >= 0, not ${String(value)}`);
    if (exact < 0n) throw new RangeError(`limit must be >= 0, not ${exact}`);
    if (exact > SIZE_MAX) throw new RangeError(`limit ${exact} does not fit a size_t (at most 2^64 - 1)`);
    return exact <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(exact) : exact;
  }

  function count(value) {
    if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
    return value;
  }

  /** gb_heap_destroy once the heap was destroyed and no view of its blocks is reachable. */
  function finish(hs) {
    if (!hs.destroyed || hs.released || hs.blocks.size > 0) return;
    hs.released = true;
    hs.lib.fn.gb_heap_destroy(hs.handle);
  }

  function markDestroyed(hs) {
    hs.destroyed = true;
    for (const state of [...hs.blocks]) {
      const block = state.owner.deref();
      if (block) block._view = null;
      state.freed = true;
      if (state.views === 0) {
        state.released = true;
        hs.blocks.delete(state);
      }
    }
    finish(hs);
  }

  // A Heap collected without destroy() (none of its Blocks reachable either:
  // each holds its heap) is destroyed then, with a warning.
  const heapGone = new FinalizationRegistry((hs) => {
    if (hs.destroyed) return;
    process.emitWarning(`graphbit-alloc: a Heap holding ${hs.blocks.size} block(s) was garbage-collected ` +
                        'without destroy(); call destroy() (or `using`) when done with it',
                        'GraphbitAllocLeakWarning');
    markDestroyed(hs);
  });

  /** A gb_heap: Blocks from heap.alloc(), capped at `limit` usable bytes, freed at once by destroy(). */
  class Heap {
    /**
     * @param {{limit?: number|bigint, library?: object}} [options] limit: usable bytes, 0 for none
     */
    constructor({ limit = 0, library: lib = null } = {}) {
      limit = toLimit(limit);
      lib = lib || library();
      const handle = lib._check(lib.fn.gb_heap_new(limit), `gb_heap_new(${limit})`);
      // What the finalizers need, and nothing that refers back to the Heap.
      this._hs = { lib, handle, destroyed: false, released: false, blocks: new Set() };
      heapGone.register(this, this._hs, this);
    }

    /** The Library the heap lives in. */
    get library() { return this._hs.lib; }
    /** True once destroy() was called. */
    get destroyed() { return this._hs.destroyed; }
    /** True once gb_heap_destroy ran (destroyed, and no view of its blocks reachable). */
    get released() { return this._hs.released; }

    _live(what) {
      if (this._hs.destroyed) throw new HeapDestroyedError(`graphbit-alloc: ${what} on a Heap that was destroyed`);
      return this._hs;
    }

    /**
     * A Block of `size` bytes from this heap (options: zeroed, alignment).
     * OutOfMemoryError when the limit (or memory) refuses it; the heap stays usable.
     */
    alloc(size, options = {}) {
      this._live('alloc()');
      return new Block(size, { ...options, heap: this });
    }

    /** gb_heap_stats: {limit_bytes, allocated_bytes, peak_allocated_bytes, blocks, refused}. */
    stats() {
      const hs = this._live('stats()');
      const raw = { size: koffi.sizeof(GbHeapStats) };
      const code = hs.lib.fn.gb_heap_stats(hs.handle, raw);
      if (code !== 0) throw Object.assign(new Error(`gb_heap_stats failed (errno ${code})`), { errno: code });
      const out = {};
      for (const field of HEAP_STATS) out[field] = count(raw[field]);
      return out;
    }

    /** Frees every Block of the heap at once (see the module comment); a second call does nothing. */
    destroy() {
      const hs = this._hs;
      if (hs.destroyed) return;
      heapGone.unregister(this);
      markDestroyed(hs);
    }
  }

  if (typeof Symbol.dispose === 'symbol') {
    // `using heap = new Heap()`.
    Heap.prototype[Symbol.dispose] = Heap.prototype.destroy;
  }

  /** The address of a new block of `heap` (for Block's constructor). */
  function heapAlloc(heap, size, zeroed, alignment) {
    const hs = heap._live('alloc()');
    const fn = hs.lib.fn;
    if (alignment != null) {
      return hs.lib._check(fn.gb_heap_aligned_alloc(hs.handle, alignment, size),
        `gb_heap_aligned_alloc(${alignment}, ${size})`);
    }
    if (zeroed) return hs.lib._check(fn.gb_heap_calloc(hs.handle, 1, size), `gb_heap_calloc(1, ${size})`);
    return hs.lib._check(fn.gb_heap_alloc(hs.handle, size), `gb_heap_alloc(${size})`);
  }

  /** Records a new Block of `heap`. */
  function heapAdopt(heap, block) {
    const state = block._state;
    state.heap = heap._hs;
    state.owner = new WeakRef(block);
    block._heap = heap; // a Heap lives while its Blocks do
    heap._hs.blocks.add(state);
  }

  /**
   * Called by release() for a heap block about to be freed: true when its
   * heap was destroyed (the memory goes with it, never to gb_free).
   */
  function heapReleased(state) {
    const hs = state.heap;
    hs.blocks.delete(state);
    if (!hs.destroyed) return false;
    finish(hs);
    return true;
  }

  return { Heap, HeapDestroyedError, heapAlloc, heapAdopt, heapReleased };
};
