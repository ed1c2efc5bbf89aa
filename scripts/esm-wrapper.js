// Writes dist/src/index.mjs, the ESM entry point, re-exporting the CommonJS build.
const fs = require('node:fs');
const path = require('node:path');
const names = ['Reranker', 'load', 'create', 'score', 'clearCache', 'runtimeInfo'];
const out = path.join(__dirname, '..', 'dist', 'src', 'index.mjs');
fs.writeFileSync(out, `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`);
