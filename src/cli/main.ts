#!/usr/bin/env node
import { DEV_PORT, startDevServer } from '../testing/dev-server.js';
import { runDoctor } from './doctor.js';

const USAGE = `usage: sgp-otel <command>

  doctor [--dry-run]   check credentials, the SGP endpoint and installed OpenTelemetry packages
  dev [--port N]       a local SGP-compatible server with a trace viewer (default port ${DEV_PORT})
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'doctor':
      return runDoctor({ env: process.env, cwd: process.cwd(), dryRun: rest.includes('--dry-run'), print: (line) => console.log(line) });
    case 'dev': {
      const at = rest.indexOf('--port');
      const port = at >= 0 ? Number(rest[at + 1]) : DEV_PORT;
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected a port number, got ${JSON.stringify(rest[at + 1])}`);
      const server = await startDevServer({ port });
      console.log(`sgp-otel dev: SGP-compatible server listening on ${server.url}`);
      console.log(`  send spans there:  SGP_CLIENT_BASE_URL=${server.url} SGP_API_KEY=dev SGP_ACCOUNT_ID=dev`);
      console.log(`  see them here:     ${server.pageUrl}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      return 0;
    }
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
