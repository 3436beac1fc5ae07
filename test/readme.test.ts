import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SGPSpanItem } from '../src/mapping/item.js';
import { startSGPTestServer } from '../src/testing/server.js';
import { extractBlocks, runs } from './readme/blocks.js';
import type { Block, Marker } from './readme/blocks.js';

// The README's code, compiled against the built package (dist/, which `npm test` builds first) and
// run as its readers would run it. Markers and what they mean: test/readme/blocks.ts.

const root = resolve(import.meta.dirname, '..');
const helpers = join(root, 'test', 'readme');
// Inside the repository, so that `sgp-otel` resolves to this package through its own "exports"
// map, as in a user's project; /tmp/ is git-ignored.
const work = join(root, 'tmp', 'readme-blocks');

// Blocks in sections edited elsewhere, until they carry their marker: delete an entry once it does.
const ASSUMED_MARKERS: Record<string, Marker> = {};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What reached the test server the block was pointed at. */
  items: SGPSpanItem[];
  requests: number;
}

interface Expectation {
  /** `own`: the block starts its own test server and ignores SGP_CLIENT_BASE_URL. */
  sends: 'env' | 'own';
  delivered(run: Run): void;
  /** Extra checks when the server refuses every batch (the run must exit 0 in any case). */
  refused?(run: Run): void;
}

const serviceName = (item: SGPSpanItem) => (item.metadata.otel as { resource: Record<string, unknown> }).resource['service.name'];

function expectSpans(run: Run, names: string[], service: string): void {
  expect(run.items.map((item) => item.name).sort()).toEqual([...names].sort());
  for (const item of run.items) expect(serviceName(item)).toBe(service);
}

const loggedFlushError = (run: Run) => expect(run.stderr).toMatch(/SGPFlushError/);

// What each runnable block must deliver, by the headings it sits under.
const EXPECTED: Record<string, Expectation> = {
  'Quickstart > NodeTracerProvider': {
    sends: 'env',
    delivered: (run) => expectSpans(run, ['hello'], 'my-app'),
    refused: loggedFlushError,
  },
  'Quickstart > NodeSDK': {
    sends: 'env',
    delivered: (run) => expectSpans(run, ['hello'], 'my-app'),
    refused: loggedFlushError,
  },
  'Quickstart > Serverless handlers (AWS Lambda, Vercel, Cloudflare)': {
    sends: 'env',
    delivered: (run) => {
      expectSpans(run, ['handle-order'], 'orders');
      expect(run.items[0].metadata['order.id']).toBe('A-1');
      expect(run.stdout).toContain('{"result":{"statusCode":200}}');
    },
    // The flush failed, yet the invocation returned the handler's result.
    refused: (run) => expect(run.stdout).toContain('{"result":{"statusCode":200}}'),
  },
  'Quickstart > Attaching LLM content': {
    sends: 'env',
    delivered: (run) => {
      expectSpans(run, ['llm:gpt-4o'], 'readme-quickstart');
      expect(run.items[0]).toMatchObject({
        type: 'COMPLETION',
        group_id: 'conversation-42',
        input: { messages: [{ role: 'user', content: 'Hi!' }] },
        output: { completion: { role: 'assistant', content: 'Hello! How can I help?' } },
      });
    },
  },
  'Manual spans': {
    sends: 'env',
    delivered: (run) => {
      expectSpans(run, ['turn:1', 'search', 'llm:gpt-4o', 'tool:charge'], 'support-bot');
      const turn = run.items.find((item) => item.name === 'turn:1')!;
      expect(turn).toMatchObject({
        type: 'AGENT_WORKFLOW',
        group_id: 'conversation-42',
        input: { question: 'How long do refunds take?' },
        output: { answer: 'Refunds take 5 days (doc-7).' },
      });
      for (const name of ['search', 'llm:gpt-4o']) {
        expect(run.items.find((item) => item.name === name)).toMatchObject({ parent_id: turn.id, group_id: 'conversation-42' });
      }
      expect(run.items.find((item) => item.name === 'tool:charge')).toMatchObject({
        status: 'ERROR',
        metadata: { error: true, error_type: 'Error', error_message: 'card declined' },
      });
      expect(run.stdout).toContain('failed as expected: card declined');
    },
    refused: loggedFlushError,
  },
  'OpenAI Agents SDK': {
    sends: 'env',
    delivered: (run) => {
      expect(run.stdout).toContain('Order A-1 was delivered.');
      for (const item of run.items) expect(serviceName(item)).toBe('support-bot');
      const root = run.items.find((item) => item.parent_id === undefined)!;
      expect(root).toMatchObject({ name: 'Agent workflow', type: 'AGENT_WORKFLOW', group_id: 'conversation-42' });
      expect(run.items.every((item) => item.trace_id === root.trace_id && item.group_id === 'conversation-42')).toBe(true);
      expect(run.items.find((item) => item.name === 'Support')).toMatchObject({ type: 'AGENT_WORKFLOW' });
      // The run's task span is named apart from the root it sits under.
      expect(run.items.filter((item) => item.name === 'Agent workflow')).toEqual([root]);
      expect(run.items.find((item) => item.name === 'Task')).toMatchObject({ type: 'CUSTOM', parent_id: root.id });
      expect(run.items.find((item) => item.name === 'lookup_order')).toMatchObject({
        type: 'CODE_EXECUTION',
        input: { orderId: 'A-1' },
        output: { orderId: 'A-1', status: 'delivered' },
      });
    },
    refused: loggedFlushError,
  },
  'Testing your own code: `sgp-otel/testing`': {
    sends: 'own',
    delivered: (run) => {
      expect(run.stdout).toMatch(/^# pass 1$/m);
      expect(run.stdout).toMatch(/llm:gpt-4o/); // the printed trace tree
    },
  },
};

const blocks: Block[] = extractBlocks(readFileSync(join(root, 'README.md'), 'utf8')).map((block) => {
  const assumed = ASSUMED_MARKERS[block.heading];
  return assumed && block.marker.kind === 'program' ? { ...block, marker: assumed } : block;
});

interface Source {
  name: string;
  /** Lines added before the block's own first line. */
  offset: number;
  text: string;
}

function sourceOf(block: Block): Source {
  const name = `line-${block.line}.${block.lang === 'ts' ? 'mts' : 'mjs'}`;
  if (block.marker.kind !== 'value') return { name, offset: 0, text: `${block.code}\n` };
  const type = block.marker.type;
  const head = type ? `import type { ${type} } from 'sgp-otel';\nexport const value = (\n` : 'export const value = (\n';
  return { name, offset: head.split('\n').length - 1, text: `${head}${block.code}\n)${type ? ` satisfies ${type}` : ''};\n` };
}

// Two blocks that must not compile: they show that a missing name and a wrong sgp-otel option
// are caught, so sgp-otel's declarations really were loaded.
const CANARIES: Record<string, string> = {
  'canary-undefined-name.mts': 'console.log(notDefinedAnywhere);\n',
  'canary-unknown-option.mts': "import { SGPSpanProcessor } from 'sgp-otel';\nnew SGPSpanProcessor({ notAnOption: 1 });\n",
};

const options: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  types: ['node'],
  skipLibCheck: true,
  allowJs: true,
  checkJs: true,
  rootDir: work,
  outDir: join(work, 'out'),
};

let diagnostics: ts.Diagnostic[] = [];
const sources = new Map<string, { block: Block; source: Source }>();

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const block of blocks) {
    const source = sourceOf(block);
    writeFileSync(join(work, source.name), source.text);
    sources.set(join(work, source.name), { block, source });
  }
  for (const [name, text] of Object.entries(CANARIES)) writeFileSync(join(work, name), text);
  // One program for every block: the slow part is loading the libraries' declarations, once.
  const program = ts.createProgram(
    [...sources.keys(), ...Object.keys(CANARIES).map((name) => join(work, name))],
    options,
  );
  diagnostics = [...ts.getPreEmitDiagnostics(program)];
  program.emit();
}, 120_000);

function where(diagnostic: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  if (!diagnostic.file || diagnostic.start === undefined) return message;
  const entry = sources.get(resolve(diagnostic.file.fileName));
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  if (!entry) return `${diagnostic.file.fileName}:${line + 1}: ${message}`;
  return `README.md:${entry.block.line + line - entry.source.offset} (${entry.block.heading}): ${message}`;
}

function compiled(block: Block): string {
  return join(work, 'out', sourceOf(block).name.replace(/\.mts$/, '.mjs'));
}

async function run(block: Block, accept: boolean): Promise<Run> {
  // A server that accepts, or one that refuses every batch (another API key: 401).
  const server = await startSGPTestServer(accept ? {} : { apiKey: 'someone-else' });
  try {
    const env: Record<string, string> = { SGP_API_KEY: 'readme-key', SGP_ACCOUNT_ID: 'readme-account', SGP_CLIENT_BASE_URL: server.url };
    for (const [key, value] of Object.entries(process.env)) {
      // NODE_ENV: vitest may set "test", under which the OpenAI Agents SDK does not trace; readers' programs run without it.
      if (value !== undefined && !/^(OTEL_|SGP_|DISABLE_SCALE_TRACING$|NODE_ENV$)/.test(key)) env[key] ??= value;
    }
    const marker = block.marker;
    const args =
      marker.kind === 'handler'
        ? [join(helpers, 'invoke-handler.mjs'), compiled(block), JSON.stringify(marker.event)]
        : marker.kind === 'with-provider'
          ? ['--import', pathToFileURL(join(helpers, 'quickstart-provider.mjs')).href, compiled(block)]
          : [compiled(block)];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      // The timeout only guards against a hang; these take a second or two.
      execFile(process.execPath, args, { cwd: root, env, encoding: 'utf8', timeout: 25_000 }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
      );
    });
    return { code, stdout, stderr, items: server.items, requests: server.requests.length };
  } finally {
    await server.close();
  }
}

describe('README code blocks', () => {
  it('are found, each with a known marker and a heading', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const block of blocks) expect(block.heading, `README.md:${block.line}`).not.toBe('');
    for (const heading of Object.keys(ASSUMED_MARKERS)) {
      expect(blocks.some((block) => block.heading === heading && block.marker === ASSUMED_MARKERS[heading]), `${heading} has its own marker now: delete its ASSUMED_MARKERS entry`).toBe(true);
    }
  });

  it('compile as written against the built package', () => {
    const resolved = ts.resolveModuleName('sgp-otel', join(work, 'any.mts'), options, ts.sys, undefined, undefined, ts.ModuleKind.ESNext).resolvedModule;
    expect(resolved?.resolvedFileName).toBe(join(root, 'dist', 'esm', 'index.d.ts'));
    const [canaries, readme] = [diagnostics.filter((d) => d.file?.fileName.includes('/canary-')), diagnostics.filter((d) => !d.file?.fileName.includes('/canary-'))];
    expect(readme.map(where)).toEqual([]);
    expect(canaries.map((d) => [d.file!.fileName.split('/').pop(), d.code])).toEqual([
      ['canary-undefined-name.mts', 2304], // Cannot find name
      ['canary-unknown-option.mts', 2353], // Object literal may only specify known properties
    ]);
  });

  it('that run are exactly the ones with expectations here', () => {
    expect(blocks.filter(runs).map((block) => block.heading).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const block of blocks.filter(runs)) {
    const expected = EXPECTED[block.heading];
    if (!expected) continue;

    it(`${block.heading} (README.md:${block.line}) delivers its spans`, async () => {
      const result = await run(block, true);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      if (expected.sends === 'own') expect(result.requests).toBe(0);
      expected.delivered(result);
    });

    it(`${block.heading} (README.md:${block.line}) exits normally when SGP refuses its spans`, async () => {
      const result = await run(block, false);
      expect(result.code, result.stderr).toBe(0);
      expect(result.items).toEqual([]);
      if (expected.sends === 'env') expect(result.requests).toBeGreaterThan(0);
      expected.refused?.(result);
    });
  }
});
