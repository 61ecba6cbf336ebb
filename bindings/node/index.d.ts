/// <reference types="node" />
/** graphbit-alloc from Node.js (see index.js for where the library is found). */

export interface BlockOptions {
  /** Zero every byte (gb_calloc, or gb_aligned_alloc then zeroed). */
  zeroed?: boolean;
  /** A power of two: the block's address is a multiple of it (gb_aligned_alloc). */
  alignment?: number | bigint | null;
  /** The library to allocate from; library() by default. */
  library?: Library;
  /** The heap to allocate in (as heap.alloc() does). */
  heap?: Heap;
}

export interface HeapOptions {
  /** Usable bytes the heap's live blocks may take; 0 (the default) for no limit. */
  limit?: number | bigint;
  /** The library to make the heap in; library() by default. */
  library?: Library;
}

export interface HeapStats {
  limit_bytes: number | bigint;
  allocated_bytes: number | bigint;
  peak_allocated_bytes: number | bigint;
  blocks: number | bigint;
  refused: number | bigint;
}

/** A gb_heap: blocks from alloc(), capped at the limit, all freed at once by destroy(). */
export class Heap {
  constructor(options?: HeapOptions);
  readonly library: Library;
  readonly destroyed: boolean;
  readonly released: boolean;
  alloc(size: number | bigint, options?: { zeroed?: boolean; alignment?: number | bigint | null }): Block;
  stats(): HeapStats;
  /** destroy(): `using heap = new Heap()` destroys it at the end of the scope. */
  [Symbol.dispose](): void;
  destroy(): void;
}

export interface Stats {
  allocated: number | bigint | null;
  active: number | bigint | null;
  resident: number | bigint | null;
  mapped: number | bigint | null;
  retained: number | bigint | null;
  peak_resident: number | bigint | null;
}

export class Block {
  constructor(size: number | bigint, options?: BlockOptions);
  readonly size: number;
  readonly length: number;
  readonly freed: boolean;
  readonly released: boolean;
  readonly address: bigint;
  usableSize(): number;
  arrayBuffer(): ArrayBuffer;
  bytes(): Uint8Array;
  buffer(): Buffer;
  read(offset?: number, length?: number): Buffer;
  write(source: string | ArrayBuffer | ArrayBufferView, offset?: number): number;
  /** free(): `using block = new Block(16)` frees at the end of the scope. */
  [Symbol.dispose](): void;
  free(): void;
}

export class Library {
  constructor(path?: string);
  readonly path: string;
  readonly fn: Record<string, (...args: any[]) => any>;
  allocatorName(): string;
  allocatorVersion(): string;
  version(): string;
  versionNumber(): number;
  verify(): boolean;
  verifyReport(): any;
  backendStatsText(): string;
  stats(): Stats;
  trim(): void;
  threadIdle(): void;
  owns(what: Block | bigint | null): boolean;
}

export class OutOfMemoryError extends RangeError { code: 'ENOMEM'; errno: number; }
export class InvalidArgumentError extends TypeError { code: 'EINVAL'; errno: number; }
export class FreedBlockError extends Error { code: 'ERR_GB_BLOCK_FREED' | 'ERR_GB_HEAP_DESTROYED'; }
export class HeapDestroyedError extends FreedBlockError { code: 'ERR_GB_HEAP_DESTROYED'; }
export class ExternalBuffersForbiddenError extends Error { code: 'ERR_GB_EXTERNAL_BUFFERS_FORBIDDEN'; }
export class LibraryLoadError extends Error { code: 'ERR_GB_LIBRARY_NOT_FOUND'; tried: string[]; }

export const STAT_UNAVAILABLE: bigint;
export const ENV_VAR: 'GRAPHBIT_ALLOC_LIB';
export const SIGNATURES: Record<string, unknown>;
export function load(path?: string): Library;
export function library(): Library;
export function withBlock<T>(size: number | bigint, fn: (block: Block) => T): T;
export function withBlock<T>(size: number | bigint, options: BlockOptions, fn: (block: Block) => T): T;
export function allocatorName(): string;
export function allocatorVersion(): string;
export function version(): string;
export function versionNumber(): number;
export function verify(): boolean;
export function verifyReport(): any;
export function backendStatsText(): string;
export function stats(): Stats;
export function trim(): void;
export function threadIdle(): void;
export function owns(what: Block | bigint | null): boolean;
