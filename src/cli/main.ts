#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { DEV_PORT, startDevServer } from '../testing/dev-server.js';
import { runDoctor } from './doctor.js';

const USAGE = `usage: sgp-otel <command>

  doctor [--dry-run]   check credentials, the SGP endpoint and installed OpenTelemetry packages
  dev [--port N]       a local SGP-compatible server with a trace viewer (default port ${DEV_PORT})
`;

/** A mistake in the command line: printed with the usage, exit code 1. */
class UsageError extends Error {}

const OPTIONS = {
  doctor: { 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  dev: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
} satisfies Record<string, ParseArgsConfig['options']>;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'doctor': {
      const values = parseCommand(rest, OPTIONS.doctor);
      if (values.help) return printUsage();
      return runDoctor({ env: process.env, cwd: process.cwd(), dryRun: values['dry-run'] === true, print: (line) => console.log(line) });
    }
    case 'dev': {
      const values = parseCommand(rest, OPTIONS.dev);
      if (values.help) return printUsage();
      return runDev(values.port === undefined ? DEV_PORT : parsePort(values.port));
    }
    case undefined:
      process.stderr.write(USAGE);
      return 1;
    case 'help':
    case '--help':
    case '-h':
      return printUsage();
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function parseCommand<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) throw new UsageError(`--port: expected a port number (0-65535), got ${JSON.stringify(text)}`);
  return port;
}

function printUsage(): number {
  process.stdout.write(USAGE);
  return 0;
}

async function runDev(port: number): Promise<number> {
  const server = await startDevServer({ port, log: (line) => console.log(line) }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${port} is in use (another \`sgp-otel dev\`?); choose another with --port N`);
    }
    throw error;
  });
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`sgp-otel: ${message}\n${error instanceof UsageError ? USAGE : ''}`);
    process.exitCode = 1;
  },
);
