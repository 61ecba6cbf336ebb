'use strict';
/**
 * graphbit-alloc from Node.js: the C API over koffi (no compiler needed).
 *
 * The shared library is found, in this order, at: the path given to
 * `load(path)`, the GRAPHBIT_ALLOC_LIB environment variable, the platform's
 * package (`@graphbit-alloc/linux-x64-gnu`, an optional dependency that npm
 * installs only on its platform; found with require.resolve), a
 * `libgraphbit_alloc_dlopen.so*` next to this file, or the system's library
 * path (dlopen's own search: LD_LIBRARY_PATH, the ld.so cache). When none
 * loads, the error names the platform and the package to install. koffi loads it
 * with dlopen into the running process, which is why it is the dlopen variant:
 * the default libgraphbit_alloc.so uses initial-exec TLS, which a dlopen into
 * a running program cannot have on jemalloc ("cannot allocate memory in
 * static TLS block"); a path to it is still tried, and that error is
 * explained.
 *
 * A Block is a block of the allocator's memory. `arrayBuffer()`, `bytes()`
 * and `buffer()` are views over it without a copy; `read()` and `write()`
 * copy. `free()` gives the block back: afterwards every method throws
 * FreedBlockError. JavaScript cannot detach koffi's views (Node copies them
 * instead of transferring), so a view kept past `free()` would point at freed
 * memory; to keep that from ever happening, a block whose view was taken goes
 * back to the allocator only once free() was called and no view of it is
 * reachable any more (after the garbage collector has seen them go), and a
 * kept view stays valid memory until then. A block never viewed is freed by
 * free() at once.
 *
 * Runtimes that forbid external buffers (Electron since 21, with V8's memory
 * cage) make koffi.view throw: there, the view methods throw
 * ExternalBuffersForbiddenError and read()/write() still work, copying.
 *
 * Allocation failures throw OutOfMemoryError (a RangeError, code 'ENOMEM');
 * a bad alignment throws InvalidArgumentError (a TypeError, code 'EINVAL').
 */

const fs = require('fs');
const path = require('path');
const koffi = require('koffi');
const { platformTriple, platformPackage } = require('./platform');

const ENV_VAR = 'GRAPHBIT_ALLOC_LIB';
/** Value of a gb_stats_t field the backend does not keep (UINT64_MAX). */
const STAT_UNAVAILABLE = 2n ** 64n - 1n;
const ENOMEM = 12;
const EINVAL = 22;

class OutOfMemoryError extends RangeError {
  constructor(message) {
    super(message);
    this.name = 'OutOfMemoryError';
    this.code = 'ENOMEM';
    this.errno = ENOMEM;
  }
}

class InvalidArgumentError extends TypeError {
  constructor(message) {
    super(message);
    this.name = 'InvalidArgumentError';
    this.code = 'EINVAL';
    this.errno = EINVAL;
  }
}

class FreedBlockError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FreedBlockError';
    this.code = 'ERR_GB_BLOCK_FREED';
  }
}

class ExternalBuffersForbiddenError extends Error {
  constructor(cause) {
    super('graphbit-alloc: this runtime forbids external ArrayBuffers (as Electron does), so a ' +
          'block cannot be viewed without a copy; use block.read() and block.write(), which copy' +
          ` (koffi.view: ${cause && cause.message})`);
    this.name = 'ExternalBuffersForbiddenError';
    this.code = 'ERR_GB_EXTERNAL_BUFFERS_FORBIDDEN';
    this.cause = cause;
  }
}

class LibraryLoadError extends Error {
  constructor(tried, hint) {
    const where = tried.length
      ? tried.join('; ')
      : `nothing: pass a path to load(), set ${ENV_VAR}, or install libgraphbit_alloc_dlopen`;
    super(hint
      ? `graphbit-alloc: cannot load the library: ${hint}. Tried ${where}`
      : `graphbit-alloc: cannot load the library, tried ${where}`);
    this.name = 'LibraryLoadError';
    this.code = 'ERR_GB_LIBRARY_NOT_FOUND';
    this.tried = tried;
  }
}

// Anonymous, so that two copies of this module in one process do not clash
// over a type name in koffi's registry.
const GbStats = koffi.struct({
  size: 'size_t',
  allocated: 'uint64_t',
  active: 'uint64_t',
  resident: 'uint64_t',
  mapped: 'uint64_t',
  retained: 'uint64_t',
  peak_resident: 'uint64_t',
});
const GbHeapStats = koffi.struct({
  size: 'size_t',
  limit_bytes: 'uint64_t',
  allocated_bytes: 'uint64_t',
  peak_allocated_bytes: 'uint64_t',
  blocks: 'uint64_t',
  refused: 'uint64_t',
});
const STAT_FIELDS = ['allocated', 'active', 'resident', 'mapped', 'retained', 'peak_resident'];

/** Every function of include/graphbit_alloc.h (the test checks the list against it). */
const SIGNATURES = {
  gb_alloc: 'void *gb_alloc(size_t size)',
  gb_calloc: 'void *gb_calloc(size_t count, size_t size)',
  gb_realloc: 'void *gb_realloc(void *ptr, size_t size)',
  gb_aligned_alloc: 'void *gb_aligned_alloc(size_t alignment, size_t size)',
  gb_free: 'void gb_free(void *ptr)',
  gb_free_sized: 'void gb_free_sized(void *ptr, size_t size)',
  gb_free_aligned_sized: 'void gb_free_aligned_sized(void *ptr, size_t alignment, size_t size)',
  gb_usable_size: 'size_t gb_usable_size(const void *ptr)',
  gb_allocator_name: 'const char *gb_allocator_name()',
  gb_allocator_version: 'const char *gb_allocator_version()',
  gb_version: 'const char *gb_version()',
  gb_version_number: 'uint32_t gb_version_number()',
  gb_verify: 'bool gb_verify()',
  gb_verify_report: 'size_t gb_verify_report(void *buf, size_t buf_len)',
  gb_stats: ['int', [koffi.inout(koffi.pointer(GbStats))]],
  gb_trim: 'int gb_trim()',
  gb_thread_idle: 'int gb_thread_idle()',
  gb_owns: 'bool gb_owns(const void *ptr)',
  gb_backend_stats_text: 'size_t gb_backend_stats_text(void *buf, size_t buf_len)',
  gb_profile_start: 'int gb_profile_start(size_t sample_bytes)',
  gb_profile_stop: 'int gb_profile_stop()',
  gb_profile_dump: 'int gb_profile_dump(const char *path)',
  gb_profile_dump_peak: 'int gb_profile_dump_peak(const char *path)',
  gb_lua_alloc: 'void *gb_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)',
  gb_ctx_malloc: 'void *gb_ctx_malloc(void *ctx, size_t size)',
  gb_ctx_calloc: 'void *gb_ctx_calloc(void *ctx, size_t nelem, size_t elsize)',
  gb_ctx_realloc: 'void *gb_ctx_realloc(void *ctx, void *ptr, size_t size)',
  gb_ctx_free: 'void gb_ctx_free(void *ctx, void *ptr)',
  gb_ctx_free_sized: 'void gb_ctx_free_sized(void *ctx, void *ptr, size_t size)',
  gb_heap_new: 'void *gb_heap_new(size_t limit_bytes)',
  gb_heap_alloc: 'void *gb_heap_alloc(void *heap, size_t size)',
  gb_heap_calloc: 'void *gb_heap_calloc(void *heap, size_t count, size_t size)',
  gb_heap_realloc: 'void *gb_heap_realloc(void *heap, void *ptr, size_t size)',
  gb_heap_aligned_alloc: 'void *gb_heap_aligned_alloc(void *heap, size_t alignment, size_t size)',
  gb_heap_destroy: 'void gb_heap_destroy(void *heap)',
  gb_heap_stats: ['int', ['void *', koffi.inout(koffi.pointer(GbHeapStats))]],
};

function libraryFileNames() {
  if (process.platform === 'darwin') return ['libgraphbit_alloc_dlopen.0.1.dylib', 'libgraphbit_alloc_dlopen.dylib'];
  if (process.platform === 'win32') return ['graphbit_alloc_dlopen.dll'];
  return ['libgraphbit_alloc_dlopen.so.0.1', 'libgraphbit_alloc_dlopen.so'];
}

/** The platform package's directory, or null where it is not installed. */
function platformPackageDir() {
  try {
    return path.dirname(require.resolve(`${platformPackage()}/package.json`));
  } catch (_) {
    return null;
  }
}

/**
 * What to do when no library loaded: which package this platform needs and
 * how to get it, or that there is none for it.
 */
function notFoundHint() {
  const name = platformPackage();
  let published = [];
  try {
    published = Object.keys(require('./package.json').optionalDependencies || {});
  } catch (_) { /* no package.json beside a copied index.js */ }
  const instead = `or set ${ENV_VAR} to a libgraphbit_alloc_dlopen library`;
  if (!published.includes(name)) {
    return `no prebuilt library for ${platformTriple()} (packages: ${published.join(', ') || 'none'}): ` +
      `build libgraphbit_alloc_dlopen from source (docs/install.md) and put it on the library path, ${instead}`;
  }
  const dir = platformPackageDir();
  if (dir) {
    const holds = libraryFileNames().some((file) => fs.existsSync(path.join(dir, file)));
    return `the package ${name} (${dir}) ${holds ? 'has a library that did not load' : 'holds no library'}: ` +
      `reinstall it, ${instead}`;
  }
  return `the library for ${platformTriple()} comes in the package ${name}, which is not installed ` +
    `(npm leaves it out with --omit=optional, or when package-lock.json was made on another platform): ` +
    `npm install ${name}, ${instead}`;
}

/** Where to look for the library, in order: [candidate, where it came from]. */
function candidates(explicit) {
  if (explicit != null) return [[String(explicit), 'the path argument']];
  const env = process.env[ENV_VAR];
  if (env) return [[env, `$${ENV_VAR}`]];
  const found = [];
  const packaged = platformPackageDir();
  for (const name of packaged ? libraryFileNames() : []) {
    const candidate = path.join(packaged, name);
    if (fs.existsSync(candidate)) found.push([candidate, `the package ${platformPackage()}`]);
  }
  let here = [];
  try {
    here = fs.readdirSync(__dirname).filter((name) => /^(lib)?graphbit_alloc_dlopen[.]/.test(name)).sort();
  } catch (_) { /* an unreadable directory holds nothing */ }
  for (const name of here) found.push([path.join(__dirname, name), 'next to the package']);
  for (const name of libraryFileNames()) found.push([name, 'the system library path']);
  return found;
}

function explain(error) {
  let text = String(error && error.message ? error.message : error);
  if (text.includes('static TLS')) {
    text += ' (this is the initial-exec build, for programs that link it at start-up; ' +
            'load libgraphbit_alloc_dlopen.so instead)';
  }
  return text;
}

/** The largest size_t: a size above it cannot reach C unchanged. */
const SIZE_MAX = 2n ** 64n - 1n;

/**
 * A size or alignment as koffi passes it to a size_t: a Number or BigInt in
 * 0..2^53-1 (the largest integer a Number holds exactly; no block that big
 * can exist, so larger sizes are refused before they reach C, where they
 * would be cut modulo 2^64). Negative or fractional values are a RangeError,
 * values above SIZE_MAX a RangeError, and values in 2^53..SIZE_MAX an
 * OutOfMemoryError, as gb_alloc would answer them.
 */
function toSize(value, what) {
  let exact;
  if (typeof value === 'bigint') {
    exact = value;
  } else if (typeof value === 'number' && Number.isInteger(value)) {
    exact = BigInt(value);
  } else {
    throw new RangeError(`${what} must be an integer >= 0, not ${typeof value === 'bigint' ? `${value}n` : String(value)}`);
  }
  if (exact < 0n) throw new RangeError(`${what} must be >= 0, not ${exact}`);
  if (exact > SIZE_MAX) throw new RangeError(`${what} ${exact} does not fit a size_t (at most 2^64 - 1)`);
  if (exact > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new OutOfMemoryError(`${what} ${exact}: out of memory (ENOMEM: larger than any block can be)`);
  }
  return Number(exact);
}

function statValue(value) {
  if (typeof value === 'bigint') {
    if (value === STAT_UNAVAILABLE) return null;
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  return value >= 2 ** 64 - 1 ? null : value;
}

/** The loaded shared library; `lib.fn.gb_alloc(...)` and friends are its functions. */
class Library {
  constructor(explicitPath) {
    const tried = [];
    for (const [candidate, origin] of candidates(explicitPath)) {
      try {
        this.handle = koffi.load(candidate);
      } catch (e) {
        tried.push(`${candidate} (${origin}): ${explain(e)}`);
        continue;
      }
      this.path = candidate;
      break;
    }
    if (!this.handle) {
      throw new LibraryLoadError(tried, explicitPath == null && !process.env[ENV_VAR] ? notFoundHint() : '');
    }
    // Each function is declared on first use, so that a library older than
    // this binding still serves the functions it has.
    const handle = this.handle;
    const declared = {};
    this.fn = new Proxy(declared, {
      get(cache, name) {
        if (typeof name !== 'string' || !Object.hasOwn(SIGNATURES, name)) return undefined;
        if (!cache[name]) {
          const prototype = SIGNATURES[name];
          cache[name] = typeof prototype === 'string'
            ? handle.func(prototype)
            : handle.func(name, prototype[0], prototype[1]);
        }
        return cache[name];
      },
    });
    this.fn.gb_version(); // a library without even this is no graphbit-alloc
  }

  /** The result of an allocation function, or the error its errno means. */
  _check(pointer, what) {
    if (pointer !== null && pointer !== 0n) return pointer;
    const code = koffi.errno();
    if (code === EINVAL) throw new InvalidArgumentError(`${what}: invalid argument (EINVAL)`);
    throw new OutOfMemoryError(`${what}: out of memory (${code === ENOMEM ? 'ENOMEM' : `errno ${code}`})`);
  }

  allocatorName() { return this.fn.gb_allocator_name(); }
  allocatorVersion() { return this.fn.gb_allocator_version(); }
  version() { return this.fn.gb_version(); }
  versionNumber() { return this.fn.gb_version_number(); }
  verify() { return this.fn.gb_verify(); }

  _text(fn) {
    // snprintf-style: ask for the length, then fill; again if it grew.
    for (;;) {
      const needed = Number(fn(null, 0));
      const buf = Buffer.alloc(needed + 1);
      if (Number(fn(buf, buf.length)) <= needed) return buf.subarray(0, buf.indexOf(0)).toString('utf8');
    }
  }

  /** gb_verify_report, parsed from JSON. */
  verifyReport() { return JSON.parse(this._text(this.fn.gb_verify_report)); }

  /** gb_backend_stats_text: the backend's own statistics report. */
  backendStatsText() { return this._text(this.fn.gb_backend_stats_text); }

  /** gb_stats in bytes (Numbers); null where the backend keeps no figure. */
  stats() {
    const raw = { size: koffi.sizeof(GbStats) };
    const code = this.fn.gb_stats(raw);
    if (code !== 0) throw Object.assign(new Error(`gb_stats failed (errno ${code})`), { errno: code });
    const out = {};
    for (const field of STAT_FIELDS) out[field] = statValue(raw[field]);
    return out;
  }

  /** Calls a gb_profile_* function; throws its errno value as an Error. */
  profileCall(name, ...args) {
    const code = this.fn[name](...args);
    if (code !== 0) throw Object.assign(new Error(`${name} failed (errno ${code})`), { errno: code });
  }

  /** gb_profile_start: samples every sampleBytes bytes on average (0: 512 KiB); errno
   *  ENOTSUP unless the library was built with profiling. */
  profileStart(sampleBytes = 0) { this.profileCall('gb_profile_start', sampleBytes); }

  /** gb_profile_stop. */
  profileStop() { this.profileCall('gb_profile_stop'); }

  /** gb_profile_dump (gb_profile_dump_peak with { peak: true }): a gzipped pprof file. */
  profileDump(path, { peak = false } = {}) {
    this.profileCall(peak ? 'gb_profile_dump_peak' : 'gb_profile_dump', String(path));
  }

  /** gb_trim: gives unused memory back to the OS now (slow). */
  trim() {
    const code = this.fn.gb_trim();
    if (code !== 0) throw Object.assign(new Error(`gb_trim failed (errno ${code})`), { errno: code });
  }

  /** gb_thread_idle: the calling thread is going idle; its cached blocks go back (a hint; cheap). */
  threadIdle() {
    const code = this.fn.gb_thread_idle();
    if (code !== 0) throw Object.assign(new Error(`gb_thread_idle failed (errno ${code})`), { errno: code });
  }

  /** gb_owns for a Block, an address (BigInt) or null. */
  owns(what) {
    const address = what instanceof Block ? what.address : what;
    return this.fn.gb_owns(address === undefined ? null : address);
  }
}

// Blocks whose views may still be reachable are released by the garbage
// collector's callbacks; a Block collected without free() is released too
// (and warned about: it is a leak in the program).
const viewGone = new FinalizationRegistry((state) => {
  state.views -= 1;
  release(state);
});
const blockGone = new FinalizationRegistry((state) => {
  if (state.freed) return;
  state.freed = true;
  process.emitWarning(`graphbit-alloc: a Block of ${state.size} bytes was garbage-collected ` +
                      'without free(); call free() when done with it', 'GraphbitAllocLeakWarning');
  release(state);
});

function release(state) {
  if (!state.freed || state.views > 0 || state.released) return;
  state.released = true;
  if (state.heap !== null && heapReleased(state)) return; // went with its heap
  const fn = state.lib.fn;
  if (state.alignment != null) fn.gb_free_aligned_sized(state.pointer, state.alignment, state.size);
  else fn.gb_free_sized(state.pointer, state.size);
}

const ZERO_CHUNK = 1 << 20;

/** A block of graphbit-alloc memory of `size` bytes, given back by free(). */
class Block {
  /**
   * @param {number} size bytes (a BigInt too)
   * @param {{zeroed?: boolean, alignment?: number, library?: Library, heap?: Heap}} [options]
   */
  constructor(size, { zeroed = false, alignment = null, library: lib = null, heap = null } = {}) {
    size = toSize(size, 'size');
    if (heap !== null && !(heap instanceof Heap)) throw new TypeError('heap must be a Heap');
    lib = heap !== null ? heap.library : lib || library();
    let pointer;
    if (heap !== null) {
      if (alignment != null) alignment = toSize(alignment, 'alignment');
      pointer = heapAlloc(heap, size, zeroed && alignment == null, alignment);
    } else if (alignment != null) {
      alignment = toSize(alignment, 'alignment');
      pointer = lib._check(lib.fn.gb_aligned_alloc(alignment, size), `gb_aligned_alloc(${alignment}, ${size})`);
    } else if (zeroed) {
      pointer = lib._check(lib.fn.gb_calloc(1, size), `gb_calloc(1, ${size})`);
    } else {
      pointer = lib._check(lib.fn.gb_alloc(size), `gb_alloc(${size})`);
    }
    this._state = { lib, pointer, size: Number(size), alignment, freed: false, released: false, views: 0,
                    heap: null, owner: null };
    this._view = null;
    if (heap !== null) heapAdopt(heap, this);
    blockGone.register(this, this._state, this);
    if (alignment != null && zeroed) this._zero();
  }

  _zero() {
    const { pointer, size } = this._state;
    try {
      new Uint8Array(koffi.view(pointer, size)).fill(0); // unreachable once this returns
    } catch (_) {
      const zeros = new Uint8Array(Math.min(size, ZERO_CHUNK));
      for (let at = 0; at < size; at += zeros.length) {
        const n = Math.min(zeros.length, size - at);
        koffi.encode(pointer, at, 'uint8_t', zeros, n);
      }
    }
  }

  _live(what) {
    if (this._state.freed) {
      this._view = null;
      if (this._state.heap !== null && this._state.heap.destroyed) {
        throw new FreedBlockError(`graphbit-alloc: ${what} on a Block whose Heap was destroyed`);
      }
      throw new FreedBlockError(`graphbit-alloc: ${what} on a Block that was freed`);
    }
    return this._state;
  }

  /** Size in bytes, as asked for. */
  get size() { return this._state.size; }
  get length() { return this._state.size; }
  /** True once free() was called. */
  get freed() { return this._state.freed; }
  /** True once the memory went back to the allocator (free() called and no view reachable). */
  get released() { return this._state.released; }
  /** The block's address (BigInt), for passing to C through koffi. */
  get address() { return this._live('address').pointer; }
  usableSize() { return Number(this._state.lib.fn.gb_usable_size(this._live('usableSize()').pointer)); }

  /** The block as an ArrayBuffer, without a copy (the same one each call). */
  arrayBuffer() {
    const state = this._live('arrayBuffer()');
    if (this._view) return this._view;
    let view;
    try {
      view = koffi.view(state.pointer, state.size);
    } catch (e) {
      throw new ExternalBuffersForbiddenError(e);
    }
    state.views += 1;
    viewGone.register(view, state);
    this._view = view;
    return view;
  }

  /** A Uint8Array over the block, without a copy. */
  bytes() { return new Uint8Array(this.arrayBuffer()); }

  /** A Node Buffer over the block, without a copy. */
  buffer() { return Buffer.from(this.arrayBuffer()); }

  /** A copy of `length` bytes from `offset` (by default, all), as a Node Buffer. */
  read(offset = 0, length = undefined) {
    const state = this._live('read()');
    if (length === undefined) length = state.size - offset;
    checkRange(offset, length, state.size);
    if (length === 0) return Buffer.alloc(0);
    const copy = koffi.decode(state.pointer, offset, 'uint8_t', length);
    return Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
  }

  /** Copies `source` (a Buffer, TypedArray, ArrayBuffer or string) in at `offset`; returns its length. */
  write(source, offset = 0) {
    const state = this._live('write()');
    let bytes;
    if (typeof source === 'string') bytes = Buffer.from(source, 'utf8');
    else if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
    else if (ArrayBuffer.isView(source)) bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    else throw new TypeError('write() takes a Buffer, a TypedArray, an ArrayBuffer or a string');
    checkRange(offset, bytes.length, state.size);
    if (bytes.length > 0) koffi.encode(state.pointer, offset, 'uint8_t', bytes, bytes.length);
    return bytes.length;
  }

  /**
   * Gives the block back; a second call does nothing. Afterwards every method
   * throws FreedBlockError; a view taken earlier keeps the memory until it is
   * garbage-collected (see the module comment).
   */
  free() {
    const state = this._state;
    if (state.freed) return;
    state.freed = true;
    this._view = null;
    blockGone.unregister(this);
    release(state);
  }
}

if (typeof Symbol.dispose === 'symbol') {
  // `using block = new Block(n)` (TypeScript 5.2, Node with explicit resource management).
  Block.prototype[Symbol.dispose] = Block.prototype.free;
}

function checkRange(offset, length, size) {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 ||
      offset + length > size) {
    throw new RangeError(`bytes ${offset}..${offset + length} are outside the block (size ${size})`);
  }
}

const heapParts = require('./heap')({
  koffi, Block, GbHeapStats, FreedBlockError, SIZE_MAX, library,
});
const { Heap, HeapDestroyedError, heapAlloc, heapAdopt, heapReleased } = heapParts;

let defaultLibrary = null;

/** Loads the library (see the module comment for where it looks). With a path, always that one. */
function load(explicitPath) {
  if (explicitPath != null) return new Library(explicitPath);
  return library();
}

/** The library the module-level functions use, loaded on first call. */
function library() {
  if (defaultLibrary === null) defaultLibrary = new Library();
  return defaultLibrary;
}

/** Runs `fn(block)` and frees the block when it returns or throws (or its promise settles). */
function withBlock(size, options, fn) {
  if (typeof options === 'function') { fn = options; options = {}; }
  const block = new Block(size, options);
  let result;
  try {
    result = fn(block);
  } catch (e) {
    block.free();
    throw e;
  }
  if (result && typeof result.then === 'function') {
    return result.finally(() => block.free());
  }
  block.free();
  return result;
}

module.exports = {
  Block,
  Heap,
  Library,
  OutOfMemoryError,
  InvalidArgumentError,
  FreedBlockError,
  HeapDestroyedError,
  ExternalBuffersForbiddenError,
  LibraryLoadError,
  STAT_UNAVAILABLE,
  ENV_VAR,
  SIGNATURES,
  load,
  library,
  withBlock,
  allocatorName: () => library().allocatorName(),
  allocatorVersion: () => library().allocatorVersion(),
  version: () => library().version(),
  versionNumber: () => library().versionNumber(),
  verify: () => library().verify(),
  verifyReport: () => library().verifyReport(),
  backendStatsText: () => library().backendStatsText(),
  stats: () => library().stats(),
  trim: () => library().trim(),
  threadIdle: () => library().threadIdle(),
  profileStart: (sampleBytes) => library().profileStart(sampleBytes),
  profileStop: () => library().profileStop(),
  profileDump: (path, options) => library().profileDump(path, options),
  owns: (what) => library().owns(what),
};
