'use strict';
/**
 * The per-platform package that carries the shared library (the layout of
 * napi-rs and koffi): graphbit-alloc lists each one under
 * optionalDependencies, and npm installs only the one whose `os`, `cpu` and
 * `libc` match. Used by index.js (to find the library) and scripts/pack.js
 * (to build the package).
 */

/** 'gnu' or 'musl' on Linux (as napi-rs tells them), '' elsewhere. */
function linuxLibc() {
  if (process.platform !== 'linux') return '';
  try {
    const header = process.report.getReport().header;
    return header.glibcVersionRuntime ? 'gnu' : 'musl';
  } catch (_) {
    return 'gnu';
  }
}

/** This platform's triple as the package names spell it, e.g. 'linux-x64-gnu'. */
function platformTriple() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') return `${base}-${linuxLibc()}`;
  if (process.platform === 'win32') return `${base}-msvc`;
  return base;
}

/** The package for this platform, e.g. '@graphbit-alloc/linux-x64-gnu'. */
function platformPackage() {
  return `@graphbit-alloc/${platformTriple()}`;
}

/** The file the platform package carries: the dlopen variant, with its SONAME. */
function packagedLibraryName() {
  if (process.platform === 'darwin') return 'libgraphbit_alloc_dlopen.0.1.dylib';
  if (process.platform === 'win32') return 'graphbit_alloc_dlopen.dll';
  return 'libgraphbit_alloc_dlopen.so.0.1';
}

module.exports = { platformTriple, platformPackage, packagedLibraryName };
