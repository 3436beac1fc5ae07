import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, EnvHttpProxyAgent, request } from 'undici';
import { resolveExporterConfig, resolveProcessorConfig, resolveSpoolConfig } from '../config.js';
import type { Environment } from '../config.js';
import { hrTimeToIso } from '../mapping/span-to-item.js';
import { inspectSpool } from '../spool/directory.js';

/** Exit codes: each kind of problem has its own, so scripts can tell them apart. */
export const DOCTOR_EXIT = { ok: 0, misconfigured: 1, rejected: 2, unreachable: 3 } as const;

export interface DoctorOptions {
  env: Environment;
  /** Where to look for installed OpenTelemetry packages. */
  cwd: string;
  /** Check credentials with an empty batch instead of one test span. */
  dryRun: boolean;
  print: (line: string) => void;
}

const OTEL_PACKAGES = [
  '@opentelemetry/api',
  '@opentelemetry/core',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/sdk-trace',
  '@opentelemetry/sdk-trace-node',
  '@opentelemetry/sdk-node',
  '@opentelemetry/resources',
  '@vercel/otel',
];

/** Checks the setup a program would run with, and says what to do about each problem. Never prints a secret. */
export async function runDoctor(options: DoctorOptions): Promise<number> {
  const { env, print } = options;
  const ok = (text: string) => print(`  ok    ${text}`);
  const warn = (text: string, fix: string) => print(`  warn  ${text}\n        -> ${fix}`);
  const fail = (text: string, fix: string) => print(`  FAIL  ${text}\n        -> ${fix}`);
  print('sgp-otel doctor');

  let exit: number = DOCTOR_EXIT.ok;
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  for (const name of ['SGP_API_KEY', 'SGP_ACCOUNT_ID']) {
    if (set(name)) ok(`${name} is set (${(env[name] ?? '').trim().length} characters)`);
    else {
      fail(`${name} is not set: sgp-otel is disabled and sends nothing`, `export ${name}=... (or pass ${name === 'SGP_API_KEY' ? 'apiKey' : 'accountId'} to SGPSpanProcessor)`);
      exit = DOCTOR_EXIT.misconfigured;
    }
  }
  if (set('DISABLE_SCALE_TRACING')) {
    fail('DISABLE_SCALE_TRACING is set: tracing is turned off', 'unset DISABLE_SCALE_TRACING to send spans');
    exit = DOCTOR_EXIT.misconfigured;
  }
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') {
    fail('OTEL_SDK_DISABLED=true: NodeSDK starts no tracing at all', 'unset OTEL_SDK_DISABLED');
    exit = DOCTOR_EXIT.misconfigured;
  }
  checkPackages(options.cwd, ok, warn);

  // Every setting the processor reads, through the same resolvers it uses.
  let config;
  try {
    config = resolveExporterConfig({ env: { ...env, DISABLE_SCALE_TRACING: '' } });
    const problems = new Set([...resolveProcessorConfig({ env }).warnings, ...resolveSpoolConfig({ env }).warnings, ...config.warnings]);
    for (const problem of problems) {
      fail(problem, 'fix or unset the variable named above');
      exit = DOCTOR_EXIT.misconfigured;
    }
  } catch (error) {
    fail(`invalid configuration: ${(error as Error).message}`, 'fix the option or variable named above');
    return DOCTOR_EXIT.misconfigured;
  }
  if (!(await checkSpool(env, print, warn))) exit = exit === DOCTOR_EXIT.ok ? DOCTOR_EXIT.misconfigured : exit;
  if (config.disabledReason === 'invalid_credentials' || config.disabledReason === 'invalid_base_url') {
    print('  skip  connection check: the configuration above disables sgp-otel');
    return exit;
  }
  print(`  info  endpoint ${config.endpoint.toString()}`);
  if (config.apiKey === undefined || config.accountId === undefined) {
    print('  skip  connection check: credentials are missing');
    return exit;
  }

  const item = {
    name: 'sgp-otel doctor',
    id: randomHex(16),
    trace_id: randomHex(32),
    start_timestamp: hrTimeToIso(nowHr()),
    end_timestamp: hrTimeToIso(nowHr()),
    input: {},
    output: {},
    metadata: { __source__: 'sgp-otel doctor' },
    status: 'SUCCESS',
    type: 'STANDALONE',
  };
  const body = JSON.stringify({ items: options.dryRun ? [] : [item] });
  // The same way out as the processor: through the proxy the environment names.
  const { proxy } = config;
  const agent = proxy
    ? new EnvHttpProxyAgent({ httpProxy: proxy.httpProxy ?? '', httpsProxy: proxy.httpsProxy ?? '', noProxy: proxy.noProxy ?? '' })
    : new Agent();
  const started = performance.now();
  try {
    const response = await request(config.endpoint, {
      method: 'PUT',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'x-api-key': config.apiKey, 'x-selected-account-id': config.accountId },
      body,
      signal: AbortSignal.timeout(config.timeoutMillis),
    });
    await response.body.dump();
    const millis = Math.round(performance.now() - started);
    if (response.statusCode === 401 || response.statusCode === 403) {
      fail(
        `SGP refused the credentials (HTTP ${response.statusCode})`,
        response.statusCode === 401 ? 'check SGP_API_KEY: the key is wrong or revoked' : 'check SGP_ACCOUNT_ID: this key has no access to that account',
      );
      return DOCTOR_EXIT.rejected;
    }
    // Whether SGP accepts an empty batch is not documented: a 422 for it still means the
    // credentials passed, and either way nothing was written.
    const passed = response.statusCode >= 200 && response.statusCode < 300;
    if (!passed && !(options.dryRun && response.statusCode === 422)) {
      fail(`SGP answered HTTP ${response.statusCode}`, 'check SGP_CLIENT_BASE_URL, or try again later if this is a 5xx');
      return DOCTOR_EXIT.unreachable;
    }
    if (options.dryRun) {
      ok(`SGP accepted the credentials (dry run: an empty batch, nothing written; round trip ${millis} ms)`);
    } else {
      ok(`SGP accepted the credentials and a test span "${item.name}" (trace ${item.trace_id})`);
      ok(`the test span took ${millis} ms to deliver`);
    }
  } catch (error) {
    fail(
      `cannot reach ${config.endpoint.host}: ${(error as Error).message}`,
      'check SGP_CLIENT_BASE_URL, your network or proxy (pass an undici ProxyAgent as dispatcher)',
    );
    return DOCTOR_EXIT.unreachable;
  } finally {
    await agent.close();
  }
  return exit;
}

/** Where the spool is, how full, and how old its oldest item; false when it cannot be used. */
async function checkSpool(env: Environment, print: (line: string) => void, warn: (t: string, f: string) => void): Promise<boolean> {
  const { dir, maxBytes } = resolveSpoolConfig({ env });
  if (dir === undefined) return true;
  const report = await inspectSpool(dir);
  if (report.state === 'unusable') {
    warn(`spool ${dir} cannot be used: ${report.problem}`, 'fix the directory or its permissions, or unset SGP_SPOOL_DIR; until then spans wait in memory during an outage');
    return false;
  }
  if (report.state === 'missing') {
    print(`  info  spool ${dir} does not exist yet (created when a processor starts), budget ${mib(maxBytes)}`);
    return true;
  }
  const { bytes, segments, oldestAt } = report.usage;
  const oldest = oldestAt === undefined ? '' : `, oldest item at most ${age(Date.now() - oldestAt)} old`;
  print(`  info  spool ${dir}: ${segments} segment${segments === 1 ? '' : 's'}, ${mib(bytes)} of ${mib(maxBytes)}${oldest}`);
  return true;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function age(millis: number): string {
  const seconds = Math.max(0, Math.round(millis / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

function checkPackages(cwd: string, ok: (t: string) => void, warn: (t: string, f: string) => void): void {
  const found: [string, string][] = [];
  for (const name of OTEL_PACKAGES) {
    const version = installedVersion(cwd, name);
    if (version) found.push([name, version]);
  }
  if (found.length === 0) {
    warn('no OpenTelemetry packages found here', 'install @opentelemetry/api and @opentelemetry/sdk-trace-node (or run the doctor in your app folder)');
    return;
  }
  ok(`OpenTelemetry packages: ${found.map(([name, version]) => `${name}@${version}`).join(', ')}`);
  const sdkMajors = new Set(found.filter(([name]) => name !== '@opentelemetry/api' && name !== '@vercel/otel').map(([, v]) => v.split('.')[0]));
  if (sdkMajors.has('1') && sdkMajors.has('2')) {
    warn('OpenTelemetry SDK packages of major versions 1 and 2 are installed side by side', 'upgrade all @opentelemetry/* SDK packages to the 2.x line, or spans may go to the wrong provider');
  }
}

/** The version of `name` that Node would load from `cwd`, walking up node_modules folders. */
function installedVersion(cwd: string, name: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
    if (dirname(dir) === dir) return undefined;
  }
}

function randomHex(length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}

function nowHr(): [number, number] {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}
