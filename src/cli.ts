#!/usr/bin/env node
import { runDoctor } from './doctor.js';

const USAGE = `usage: sgp-otel <command>

  doctor [--dry-run]   check credentials, the SGP endpoint and installed OpenTelemetry packages
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'doctor':
      return runDoctor({ env: process.env, cwd: process.cwd(), dryRun: rest.includes('--dry-run'), print: (line) => console.log(line) });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`sgp-otel: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`sgp-otel: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
