'use strict';
// The npm packages as a user installs them, in the per-platform layout of
// napi-rs and koffi: scripts/pack.js makes graphbit-alloc-*.tgz (JavaScript,
// typings, no binary) and graphbit-alloc-linux-x64-gnu-*.tgz (the dlopen
// library); `npm install --offline` of both in an empty project gives a
// require('graphbit-alloc') that works with no GRAPHBIT_ALLOC_LIB; without the
// platform package the error names the platform and the package to install;
// and index.d.ts compiles `using b = new Block(16)` and Buffer-typed code with
// tsc and @types/node (installed from npm here).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { PACKAGE } = require('./helpers');

const LIBRARY = process.env.GRAPHBIT_ALLOC_LIB;
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 300000, ...options });
  assert.equal(result.status, 0,
    `${command} ${args.join(' ')} exited ${result.status} (${result.error || ''}):\n` +
    `${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function withoutLibraryVariables() {
  const env = { ...process.env };
  for (const name of ['GRAPHBIT_ALLOC_LIB', 'LD_LIBRARY_PATH', 'NODE_PATH', 'NODE_TEST_CONTEXT']) {
    delete env[name];
  }
  return env;
}

function tarFiles(tarball) {
  return run('tar', ['-tzf', tarball]).split('\n').filter(Boolean);
}

/** An empty project with `tarballs` installed from them and npm's cache only (no registry). */
function project(work, name, tarballs, env) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), `{"name": "gb-npm-${name}", "private": true}\n`);
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: dir, env });
  return dir;
}

const USE = `
  const gb = require('graphbit-alloc');
  const block = new gb.Block(64, { zeroed: true });
  block.write('hello');
  console.log(JSON.stringify({ path: gb.library().path, text: block.read(0, 5).toString(),
    verify: gb.verify(), name: gb.allocatorName() }));
  block.free();`;

test('pack.js, then npm install --offline of both tarballs: require works with no GRAPHBIT_ALLOC_LIB; ' +
  'without the platform package the error says what to install; tsc compiles `using`',
  { skip: !onLinuxX64 && 'only the linux-x64-gnu package is built here' }, () => {
    assert.ok(LIBRARY && fs.existsSync(LIBRARY), `GRAPHBIT_ALLOC_LIB=${LIBRARY}`);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gb-npm-'));
    try {
      const packed = JSON.parse(run(process.execPath,
        [path.join(PACKAGE, 'scripts', 'pack.js'), '--lib', LIBRARY, '--out', work]));
      const inside = 'libgraphbit_alloc_dlopen.so.0.1';
      const mainFiles = tarFiles(packed.main);
      assert.ok(mainFiles.includes('package/index.js') && mainFiles.includes('package/platform.js'),
        mainFiles.join(', '));
      assert.ok(!mainFiles.some((f) => /\.so|^package\/(lib|test|node_modules|npm)\//.test(f)), mainFiles.join(', '));
      assert.deepEqual(tarFiles(packed.platform).sort(),
        ['package/README.md', `package/${inside}`, 'package/package.json'].sort());
      const platformJson = JSON.parse(run('tar', ['-xzOf', packed.platform, 'package/package.json']));
      assert.equal(platformJson.name, '@graphbit-alloc/linux-x64-gnu');
      assert.deepEqual([platformJson.os, platformJson.cpu, platformJson.libc], [['linux'], ['x64'], ['glibc']]);
      const mainJson = JSON.parse(run('tar', ['-xzOf', packed.main, 'package/package.json']));
      assert.equal(mainJson.optionalDependencies['@graphbit-alloc/linux-x64-gnu'], platformJson.version);
      // The source tree keeps no binary after packing.
      assert.ok(!fs.existsSync(path.join(PACKAGE, 'npm', 'linux-x64-gnu', inside)));

      const env = withoutLibraryVariables();
      const both = project(work, 'both', [packed.main, packed.platform], env);
      const out = JSON.parse(run(process.execPath, ['-e', USE], { cwd: both, env }));
      assert.equal(out.path, path.join(both, 'node_modules', '@graphbit-alloc', 'linux-x64-gnu', inside));
      assert.equal(out.text, 'hello');
      assert.equal(out.verify, true);

      // The main package alone (npm cannot fetch the optional one offline, and
      // skips it): the error names the platform and the package to install.
      const alone = project(work, 'alone', [packed.main], env);
      assert.ok(!fs.existsSync(path.join(alone, 'node_modules', '@graphbit-alloc', 'linux-x64-gnu')));
      const onSystemPath = run('sh', ['-c', 'ldconfig -p 2>/dev/null || true']).includes('libgraphbit_alloc_dlopen');
      const missing = spawnSync(process.execPath, ['-e', USE], { cwd: alone, env, encoding: 'utf8' });
      if (onSystemPath) {
        assert.equal(missing.status, 0, missing.stderr); // the system's library, found last
      } else {
        assert.notEqual(missing.status, 0);
        assert.match(missing.stderr, new RegExp('LibraryLoadError: graphbit-alloc: cannot load the library: ' +
          'the library for linux-x64-gnu comes in the package @graphbit-alloc/linux-x64-gnu, which is not installed'));
        assert.match(missing.stderr, /npm install @graphbit-alloc\/linux-x64-gnu, or set GRAPHBIT_ALLOC_LIB .*\. Tried /);
      }
      const tsProject = both;

      // TypeScript: Symbol.dispose on Block (TS2850 without it), Buffer from @types/node.
      run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-save',
        'typescript@5', '@types/node@20'], { cwd: tsProject, env });
      fs.writeFileSync(path.join(tsProject, 'main.ts'), [
        "import { Block, Heap, HeapStats, allocatorName } from 'graphbit-alloc';",
        'export function main(): string {',
        '  using block = new Block(16);',
        '  const view: Buffer = block.buffer();',
        "  view.write('typed');",
        '  return `${allocatorName()} ${block.read(0, 5).toString()}`;',
        '}',
        'export function inHeap(): number {',
        '  using heap = new Heap({ limit: 1n << 20n });',
        '  const block: Block = heap.alloc(64, { zeroed: true });',
        '  const stats: HeapStats = heap.stats();',
        '  return block.size + Number(stats.blocks);',
        '}',
        'console.log(inHeap());',
        'console.log(main());',
        '',
      ].join('\n'));
      fs.writeFileSync(path.join(tsProject, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'commonjs', lib: ['ES2022', 'ESNext.Disposable'],
          strict: true, types: ['node'], outDir: 'out',
        },
        files: ['main.ts'],
      }));
      run(path.join(tsProject, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: tsProject, env });
      if (typeof Symbol.dispose === 'symbol') {
        const printed = run(process.execPath, [path.join('out', 'main.js')], { cwd: tsProject, env });
        assert.match(printed, /^(jemalloc|mimalloc|system) typed$/m);
      }

      // Without the declaration, tsc refuses `using` (the check can fail).
      const typesFile = path.join(tsProject, 'node_modules', 'graphbit-alloc', 'index.d.ts');
      fs.writeFileSync(typesFile, fs.readFileSync(typesFile, 'utf8').replace(/\s*\[Symbol\.dispose\]\(\): void;/, ''));
      const refused = spawnSync(path.join(tsProject, 'node_modules', '.bin', 'tsc'), ['-p', '.'],
        { cwd: tsProject, env, encoding: 'utf8' });
      assert.notEqual(refused.status, 0);
      assert.match(refused.stdout, /TS2850/);

      // A platform package whose library is broken, then gone: the error says which
      // (unless the system path has a library, which is then found last).
      if (!onSystemPath) {
        const installed = path.join(tsProject, 'node_modules', '@graphbit-alloc', 'linux-x64-gnu', inside);
        fs.writeFileSync(installed, 'not an ELF file');
        const broken = spawnSync(process.execPath, ['-e', USE], { cwd: tsProject, env, encoding: 'utf8' });
        assert.notEqual(broken.status, 0);
        assert.match(broken.stderr, /the package @graphbit-alloc\/linux-x64-gnu \(.*\) has a library that did not load: reinstall it/);
        fs.rmSync(installed);
        const gone = spawnSync(process.execPath, ['-e', USE], { cwd: tsProject, env, encoding: 'utf8' });
        assert.notEqual(gone.status, 0);
        assert.match(gone.stderr, /the package @graphbit-alloc\/linux-x64-gnu \(.*\) holds no library: reinstall it/);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
