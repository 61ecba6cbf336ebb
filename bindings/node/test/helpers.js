'use strict';
// Shared by the tests: the repository's paths, the header's functions, a
// garbage collector, and the README snippets to check.
const fs = require('fs');
const path = require('path');

const PACKAGE = path.resolve(__dirname, '..');
const REPO = path.resolve(PACKAGE, '..', '..');
const HEADER = path.join(REPO, 'include', 'graphbit_alloc.h');
const MiB = 1 << 20;

/** name -> number of parameters, for every function the C header declares. */
function headerFunctions() {
  const text = fs.readFileSync(HEADER, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const found = {};
  const re = /^(?:GB_NODISCARD\s+)?[A-Za-z_][\w\s*]*?\b(gb_\w+)\(([^)]*)\)(?:\s*GB_[A-Z0-9_]+(?:\([^)]*\))?)*\s*;/gm;
  for (const m of text.matchAll(re)) {
    const params = m[2].trim();
    found[m[1]] = params === '' || params === 'void' ? 0 : params.split(',').length;
  }
  return found;
}

/** A full garbage collection, with --expose-gc or without (v8 flags at run time). */
function collector() {
  if (typeof global.gc === 'function') return global.gc;
  require('v8').setFlagsFromString('--expose-gc');
  return require('vm').runInNewContext('gc');
}

/**
 * The fenced code blocks that follow `<!-- example: PATH -->` in a Markdown
 * file: [{example, code}], PATH relative to the repository.
 */
function markedSnippets(markdownFile) {
  const text = fs.readFileSync(markdownFile, 'utf8');
  const out = [];
  const re = /<!-- example: (\S+) -->\s*\n```[\w-]*\n([\s\S]*?)```/g;
  for (const m of text.matchAll(re)) out.push({ example: m[1], code: m[2] });
  return out;
}

module.exports = { PACKAGE, REPO, HEADER, MiB, headerFunctions, collector, markedSnippets };
