'use strict';
// The npm package as a user installs it: `npm pack` puts the dlopen library
// inside (lib/<platform>-<arch>/), `npm install ./graphbit-alloc-*.tgz` in an
// empty project gives a require('graphbit-alloc') that works with no
// GRAPHBIT_ALLOC_LIB, and index.d.ts compiles `using b = new Block(16)` and
// Buffer-typed code with tsc and @types/node (installed from npm here).
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

test('npm pack, then npm install of the tarball: require works with no GRAPHBIT_ALLOC_LIB, and tsc compiles `using`',
  { skip: !onLinuxX64 && 'the package carries a library for linux-x64 only' }, () => {
    assert.ok(LIBRARY && fs.existsSync(LIBRARY), `GRAPHBIT_ALLOC_LIB=${LIBRARY}`);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gb-npm-'));
    try {
      // The library to pack: the one these tests run against.
      const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work],
        { cwd: PACKAGE, env: { ...process.env, GRAPHBIT_ALLOC_LIB: LIBRARY } }));
      const files = packed[0].files.map((f) => f.path);
      const inside = 'lib/linux-x64/libgraphbit_alloc_dlopen.so.0.1';
      assert.ok(files.includes(inside), `${inside} in ${files.join(', ')}`);
      assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), files.join(', '));
      const tarball = path.join(work, packed[0].filename);

      const project = path.join(work, 'project');
      fs.mkdirSync(project);
      fs.writeFileSync(path.join(project, 'package.json'), '{"name": "gb-npm-user", "private": true}\n');
      const env = withoutLibraryVariables();
      run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, env });

      const code = `
        const gb = require('graphbit-alloc');
        const block = new gb.Block(64, { zeroed: true });
        block.write('hello');
        console.log(JSON.stringify({ path: gb.library().path, text: block.read(0, 5).toString(),
          verify: gb.verify(), name: gb.allocatorName() }));
        block.free();`;
      const out = JSON.parse(run(process.execPath, ['-e', code], { cwd: project, env }));
      assert.equal(out.path, path.join(project, 'node_modules', 'graphbit-alloc', inside));
      assert.equal(out.text, 'hello');
      assert.equal(out.verify, true);

      // TypeScript: Symbol.dispose on Block (TS2850 without it), Buffer from @types/node.
      run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-save',
        'typescript@5', '@types/node@20'], { cwd: project, env });
      fs.writeFileSync(path.join(project, 'main.ts'), [
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
      fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'commonjs', lib: ['ES2022', 'ESNext.Disposable'],
          strict: true, types: ['node'], outDir: 'out',
        },
        files: ['main.ts'],
      }));
      run(path.join(project, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: project, env });
      if (typeof Symbol.dispose === 'symbol') {
        const printed = run(process.execPath, [path.join('out', 'main.js')], { cwd: project, env });
        assert.match(printed, /^(jemalloc|mimalloc|system) typed$/m);
      }

      // Without the declaration, tsc refuses `using` (the check can fail).
      const typesFile = path.join(project, 'node_modules', 'graphbit-alloc', 'index.d.ts');
      fs.writeFileSync(typesFile, fs.readFileSync(typesFile, 'utf8').replace(/\s*\[Symbol\.dispose\]\(\): void;/, ''));
      const refused = spawnSync(path.join(project, 'node_modules', '.bin', 'tsc'), ['-p', '.'],
        { cwd: project, env, encoding: 'utf8' });
      assert.notEqual(refused.status, 0);
      assert.match(refused.stdout, /TS2850/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
