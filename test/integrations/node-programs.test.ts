import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { SGPSpanItem } from '../../src/mapping/item.js';

// These programs run the built package (npm test builds first) in their own process, because
// NodeSDK and @vercel/otel register globals and patch modules at start, as in a user's app.
async function runProgram(name: string): Promise<{ items: SGPSpanItem[]; requests?: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, [new URL(`./programs/${name}`, import.meta.url).pathname], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none' },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('NodeSDK with the HTTP instrumentation', () => {
  it('delivers the server and client spans of a real request as one trace, and does not trace its own exports', async () => {
    const { items } = await runProgram('node-sdk.cjs');
    const client = items.find((i) => (i.metadata.otel as { kind: string }).kind === 'CLIENT')!;
    const server = items.find((i) => (i.metadata.otel as { kind: string }).kind === 'SERVER')!;
    expect(items).toHaveLength(2);
    expect(client.name).toBe('GET');
    expect(server.name).toBe('GET');
    expect(server.trace_id).toBe(client.trace_id);
    expect(server.parent_id).toBe(client.id);
    expect(server.metadata).toMatchObject({ 'http.response.status_code': 200 });
    expect((server.metadata.otel as { resource: Record<string, unknown> }).resource['service.name']).toBe('node-sdk-integration');
  });
});

describe('OpenAI Agents SDK under NodeSDK with the HTTP instrumentation', () => {
  it("a request made in a tool's execute is a child of the tool's span, in the run's trace", async () => {
    const { items } = await runProgram('agents-http.cjs');
    const toolCall = items.find((i) => i.name === 'lookup_order')!;
    const client = items.find((i) => (i.metadata.otel as { kind: string }).kind === 'CLIENT')!;
    const server = items.find((i) => (i.metadata.otel as { kind: string }).kind === 'SERVER')!;
    expect(toolCall).toMatchObject({ type: 'CODE_EXECUTION', output: { status: 'delivered' } });
    expect(client).toMatchObject({ name: 'GET', parent_id: toolCall.id, trace_id: toolCall.trace_id });
    expect(server).toMatchObject({ parent_id: client.id, trace_id: toolCall.trace_id });
  });
});

describe('@vercel/otel registerOTel({ spanProcessors })', () => {
  it('delivers the route span and its LLM child', async () => {
    const { items } = await runProgram('vercel-otel.cjs');
    const root = items.find((i) => i.name === 'POST /api/chat')!;
    const llm = items.find((i) => i.name === 'llm:gpt-4o')!;
    expect(llm).toMatchObject({ type: 'COMPLETION', parent_id: root.id, trace_id: root.trace_id });
    expect((root.metadata.otel as { resource: Record<string, unknown> }).resource['service.name']).toBe('vercel-otel-integration');
  });
});
