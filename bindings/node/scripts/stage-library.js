'use strict';
// `npm pack` / `npm publish` (prepack): copies the dlopen library into the
// package, at lib/<platform>-<arch>/ (the per-platform directories that koffi
// ships its own binaries in), so that an installed package needs no
// GRAPHBIT_ALLOC_LIB. Where from: $GRAPHBIT_ALLOC_LIB, else the library that
// `cmake --build --preset default` put in build/default/lib/ of this
// repository. Debug information is stripped from the copy when `strip` is
// there. Fails (and so does npm pack) when no library is found.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const PACKAGE = path.resolve(__dirname, '..');
const REPO = path.resolve(PACKAGE, '..', '..');
const platformDir = `${process.platform}-${process.arch}`;
const names = {
  linux: 'libgraphbit_alloc_dlopen.so.0.1',
  darwin: 'libgraphbit_alloc_dlopen.0.1.dylib',
  win32: 'graphbit_alloc_dlopen.dll',
};

function main() {
  const name = names[process.platform];
  if (!name) throw new Error(`stage-library: no library name for platform ${process.platform}`);
  const candidates = [
    process.env.GRAPHBIT_ALLOC_LIB,
    path.join(REPO, 'build', 'default', 'lib', name),
  ].filter(Boolean);
  const source = candidates.find((candidate) => fs.existsSync(candidate));
  if (!source) {
    throw new Error('stage-library: no dlopen library to put in the package; build it with ' +
      '`cmake --preset default && cmake --build --preset default` or set GRAPHBIT_ALLOC_LIB ' +
      `(tried: ${candidates.join(', ')})`);
  }
  const dir = path.join(PACKAGE, 'lib', platformDir);
  fs.rmSync(path.join(PACKAGE, 'lib'), { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, name);
  fs.copyFileSync(fs.realpathSync(source), target);
  const strip = spawnSync('strip', ['--strip-debug', target], { stdio: 'inherit' });
  const size = fs.statSync(target).size;
  console.error(`stage-library: ${source} -> lib/${platformDir}/${name} (${size} bytes` +
    `${strip.status === 0 ? ', debug information stripped' : ''})`);
}

main();
