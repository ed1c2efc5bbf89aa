// Writes dist/src/index.mjs, the ESM entry point, re-exporting every export of the CommonJS build.
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'src');
// Read the export names from the compiled file without loading it (loading would start the native addon).
const source = fs.readFileSync(path.join(dist, 'index.js'), 'utf8');
const names = [...new Set([...source.matchAll(/^exports\.(\w+) = /gm), ...source.matchAll(/Object\.defineProperty\(exports, "(\w+)"/g)]
  .map((m) => m[1]))].filter((n) => n !== '__esModule' && n !== 'default');
fs.writeFileSync(path.join(dist, 'index.mjs'), `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`);
