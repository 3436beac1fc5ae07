// Packs the package as npm would publish it from a fresh clone, then checks the tarball: it holds
// the build (prepack builds; a clone has no dist/), every source map carries its sources, publint,
// Are The Types Wrong, and a scratch project that installs the tarball and uses it from both ES
// modules and CommonJS. Run by .ci/run (npm run check:package).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const run = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const fail = (message) => {
  throw new Error(`check-package: ${message}`);
};
const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'sgp-otel-package-'));
try {
  // What a fresh clone holds: the files git tracks or would track (uncommitted edits included,
  // ignored files such as dist/ left out), with this checkout's node_modules for the build tools.
  const clone = join(work, 'clone');
  for (const file of run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root).split('\0')) {
    if (!file || !existsSync(join(root, file))) continue; // a tracked file deleted in the work tree
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    cpSync(join(root, file), join(clone, file));
  }
  if (existsSync(join(clone, 'dist'))) fail('dist/ is not ignored by git, so this is no fresh clone');
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');

  const tarball = join(work, run('npm', ['pack', '--silent', '--pack-destination', work], clone).trim().split('\n').pop());
  console.log(`packed ${tarball} from a fresh copy of the repository`);

  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['-xzf', tarball, '-C', unpacked]);
  const files = run('tar', ['-tzf', tarball], root).trim().split('\n').map((name) => name.replace(/^package\//, ''));
  for (const needed of ['dist/esm/index.js', 'dist/cjs/index.js', 'dist/esm/index.d.ts', 'dist/esm/testing/index.js', 'dist/esm/integrations/openai-agents/index.js', 'openai-agents/package.json']) {
    if (!files.includes(needed)) fail(`the tarball has no ${needed} (${files.length} files): does prepack build?`);
  }
  checkSourceMaps(join(unpacked, 'package'), files);

  console.log(run('npx', ['--no-install', 'publint', 'run', tarball, '--strict'], root).trim());
  console.log(run('npx', ['--no-install', 'attw', tarball, '--format', 'table-flipped'], root).trim());

  const scratch = join(work, 'scratch');
  run('mkdir', ['-p', scratch]);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, version: '0.0.0' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, '@opentelemetry/api@~1.9.0', '@opentelemetry/sdk-trace-base@^2.12.0'], scratch);
  const program = `
    const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor({ apiKey: 'k', accountId: 'a', baseUrl: server.url, env: {} })] });
    provider.getTracer('scratch').startSpan('from-the-tarball').end();
    await provider.forceFlush();
    if (server.items[0]?.name !== 'from-the-tarball') throw new Error('span did not arrive');
    // sgp-otel/openai-agents loads without its optional peer, @openai/agents-core (not installed here).
    await new SGPAgentsTraceProcessor({ tracerProvider: provider }).forceFlush();
    await provider.shutdown();
    await server.close();
  `;
  writeFileSync(
    join(scratch, 'esm.mjs'),
    `import { SGPSpanProcessor } from 'sgp-otel';\nimport { startSGPTestServer } from 'sgp-otel/testing';\nimport { SGPAgentsTraceProcessor } from 'sgp-otel/openai-agents';\nimport { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';\nconst server = await startSGPTestServer();\n${program}\nconsole.log('ESM import: ok');\n`,
  );
  writeFileSync(
    join(scratch, 'cjs.cjs'),
    `const { SGPSpanProcessor } = require('sgp-otel');\nconst { startSGPTestServer } = require('sgp-otel/testing');\nconst { SGPAgentsTraceProcessor } = require('sgp-otel/openai-agents');\nconst { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');\n(async () => {\nconst server = await startSGPTestServer();\n${program}\nconsole.log('CommonJS require: ok');\n})().catch((error) => { console.error(error); process.exit(1); });\n`,
  );
  console.log(run('node', ['esm.mjs'], scratch).trim());
  console.log(run('node', ['cjs.cjs'], scratch).trim());
  console.log('package checks passed');
} finally {
  rmSync(work, { recursive: true, force: true });
}

// A stack trace into the package must lead to readable TypeScript: every .js names a map that is
// in the tarball, and every map carries the text of its sources (src/ itself is not shipped).
function checkSourceMaps(dir, files) {
  const maps = files.filter((name) => name.endsWith('.js.map'));
  if (maps.length === 0) fail('the tarball has no source maps');
  for (const name of files.filter((file) => file.endsWith('.js'))) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(dir, name), 'utf8'))?.[1];
    if (!url) fail(`${name} names no source map`);
    if (!files.includes(join(dirname(name), url))) fail(`${name} names ${url}, which is not in the tarball`);
  }
  for (const name of maps) {
    const map = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    const complete =
      Array.isArray(map.sourcesContent) &&
      map.sourcesContent.length === map.sources.length &&
      map.sourcesContent.every((text) => typeof text === 'string' && text.length > 0);
    if (!complete) fail(`${name} has no sourcesContent for ${map.sources.join(', ')}, which the tarball does not ship`);
  }
  console.log(`${maps.length} source maps, each with its sources`);
}
