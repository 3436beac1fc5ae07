// Packs the package as npm would publish it, then checks the tarball:
// publint, Are The Types Wrong, and a scratch project that installs the tarball and uses it from
// both ES modules and CommonJS. Run by .ci/run after the build (npm run check:package).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const run = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'sgp-otel-package-'));
try {
  const tarball = join(work, run('npm', ['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop());
  console.log(`packed ${tarball}`);

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
    await provider.shutdown();
    await server.close();
  `;
  writeFileSync(
    join(scratch, 'esm.mjs'),
    `import { SGPSpanProcessor } from 'sgp-otel';\nimport { startSGPTestServer } from 'sgp-otel/testing';\nimport { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';\nconst server = await startSGPTestServer();\n${program}\nconsole.log('ESM import: ok');\n`,
  );
  writeFileSync(
    join(scratch, 'cjs.cjs'),
    `const { SGPSpanProcessor } = require('sgp-otel');\nconst { startSGPTestServer } = require('sgp-otel/testing');\nconst { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');\n(async () => {\nconst server = await startSGPTestServer();\n${program}\nconsole.log('CommonJS require: ok');\n})().catch((error) => { console.error(error); process.exit(1); });\n`,
  );
  console.log(run('node', ['esm.mjs'], scratch).trim());
  console.log(run('node', ['cjs.cjs'], scratch).trim());
  console.log('package checks passed');
} finally {
  rmSync(work, { recursive: true, force: true });
}
