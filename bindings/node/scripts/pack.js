'use strict';
// Builds the two npm tarballs from a built library:
//   graphbit-alloc-VERSION.tgz                      JavaScript and typings, no binary
//   graphbit-alloc-linux-x64-gnu-VERSION.tgz        the dlopen library (this platform's package)
//
//   node scripts/pack.js [--lib PATH] [--out DIR]
//
// --lib: the dlopen library (default $GRAPHBIT_ALLOC_LIB, else build/default/lib/ of this
// repository, as `cmake --build --preset default` makes it). It is copied into
// npm/<triple>/ under its SONAME, with debug information stripped when `strip` is there,
// then `npm pack` runs in that package (and the copy is removed) and in the main one. --out: where the tarballs go
// (default: the current directory). Prints their paths as JSON on stdout. Fails when there
// is no library, when the platform has no package directory here, or when the main tarball
// would carry a binary.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { platformTriple, packagedLibraryName } = require('../platform');

const PACKAGE = path.resolve(__dirname, '..');
const REPO = path.resolve(PACKAGE, '..', '..');

function fail(message) {
  console.error(`pack: ${message}`);
  process.exit(1);
}

function args(argv) {
  const out = { lib: process.env.GRAPHBIT_ALLOC_LIB || null, out: process.cwd() };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') {
      console.log('usage: node scripts/pack.js [--lib PATH] [--out DIR]');
      process.exit(0);
    }
    if (flag !== '--lib' && flag !== '--out') fail(`unknown argument ${JSON.stringify(flag)} (see --help)`);
    if (i + 1 >= argv.length) fail(`${flag} needs a value`);
    out[flag.slice(2)] = argv[++i];
  }
  return out;
}

function npmPack(dir, out) {
  const result = spawnSync('npm', ['pack', '--json', '--pack-destination', out], {
    cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) fail(`npm pack in ${dir} exited ${result.status} ${result.error || ''}`);
  const [packed] = JSON.parse(result.stdout);
  return { tarball: path.join(out, packed.filename), files: packed.files.map((f) => f.path) };
}

function main() {
  const options = args(process.argv.slice(2));
  const name = packagedLibraryName();
  const source = options.lib || path.join(REPO, 'build', 'default', 'lib', name);
  if (!fs.existsSync(source)) {
    fail(`no dlopen library at ${source}: build it with ` +
      '`cmake --preset default && cmake --build --preset default`, or pass --lib PATH');
  }
  const platformDir = path.join(PACKAGE, 'npm', platformTriple());
  if (!fs.existsSync(path.join(platformDir, 'package.json'))) {
    fail(`no package for ${platformTriple()} (npm/${platformTriple()}/package.json): ` +
      'add one, and list it under optionalDependencies in package.json');
  }
  const out = path.resolve(options.out);
  fs.mkdirSync(out, { recursive: true });

  const target = path.join(platformDir, name);
  fs.rmSync(target, { force: true });
  fs.copyFileSync(fs.realpathSync(source), target);
  const strip = spawnSync('strip', ['--strip-debug', target], { stdio: 'inherit' });
  console.error(`pack: ${source} -> npm/${platformTriple()}/${name} (${fs.statSync(target).size} bytes` +
    `${strip.status === 0 ? ', debug information stripped' : ''})`);

  let platform;
  try {
    platform = npmPack(platformDir, out);
  } finally {
    fs.rmSync(target, { force: true }); // the source tree keeps no binary
  }
  if (!platform.files.includes(name)) fail(`${platform.tarball} lacks ${name}: ${platform.files.join(', ')}`);
  const main = npmPack(PACKAGE, out);
  const binaries = main.files.filter((f) => /\.(so|dylib|dll|node)(\.|$)/.test(f));
  if (binaries.length) fail(`${main.tarball} carries binaries: ${binaries.join(', ')}`);
  console.log(JSON.stringify({ main: main.tarball, platform: platform.tarball }));
}

main();
