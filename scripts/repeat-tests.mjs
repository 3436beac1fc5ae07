// Runs the test suite N times in a row (default 20) and stops at the first failure. With --hog,
// a CPU-bound process runs beside it the whole time, as on a loaded CI machine.
//   npm run test:repeat -- 20 --hog
import { spawn, spawnSync } from 'node:child_process';

const runs = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 20);
const hog = process.argv.includes('--hog') ? spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }) : undefined;
const vitest = new URL('../node_modules/vitest/vitest.mjs', import.meta.url).pathname;
const started = Date.now();
let passed = 0;
try {
  for (let run = 1; run <= runs; run += 1) {
    const result = spawnSync(process.execPath, [vitest, 'run', '--reporter=dot'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) {
      process.stdout.write(result.stdout + result.stderr);
      console.log(`test:repeat: run ${run} of ${runs} failed after ${passed} passing runs${hog ? ' (CPU hog beside it)' : ''}`);
      process.exitCode = 1;
      break;
    }
    passed += 1;
    const summary = /Tests\s+(.*)/.exec(result.stdout.replace(/\x1b\[[0-9;]*m/g, ''))?.[1]?.trim() ?? '';
    console.log(`run ${run}/${runs}: ${summary}`);
  }
} finally {
  hog?.kill();
}
if (passed === runs) {
  console.log(`test:repeat: ${runs} consecutive runs passed in ${Math.round((Date.now() - started) / 1000)} s${hog ? ' with a CPU hog beside them' : ''}`);
}
