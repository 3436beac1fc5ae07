import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import type { SGPSpanProcessorOptions } from '../src/config.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { captureDiag, credentials } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

const RESOURCE = {
  'service.name': 'checkout',
  'service.version': '1.2.3',
  'deployment.environment.name': 'prod',
  'host.name': 'web-1',
  'telemetry.sdk.language': 'nodejs',
  'process.runtime.name': 'nodejs',
  'process.command_args': ['node', 'server.js', '--db-password=hunter2'],
  'process.pid': 4242,
  'custom.team': 'payments',
};

async function resourceSent(options: Partial<SGPSpanProcessorOptions>, resource = resourceFromAttributes(RESOURCE)) {
  const processor = new SGPSpanProcessor({ ...credentials(server.url), ...options });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  provider.getTracer('t').startSpan('work').end();
  await provider.shutdown();
  return (server.items[0]!.metadata.otel as { resource: Record<string, unknown> }).resource;
}

describe('resource attributes in metadata.otel.resource', () => {
  it('by default keep what identifies the process and leave out the command line', async () => {
    const kept = ['service.name', 'service.version', 'deployment.environment.name', 'host.name', 'telemetry.sdk.language', 'process.runtime.name'];
    expect(await resourceSent({})).toEqual(Object.fromEntries(kept.map((key) => [key, RESOURCE[key as keyof typeof RESOURCE]])));
  });

  it("'all', 'none', and a list of names and prefixes", async () => {
    expect(await resourceSent({ resourceAttributes: 'all' })).toMatchObject({ 'process.pid': 4242, 'custom.team': 'payments' });
    server.reset();
    expect(await resourceSent({ resourceAttributes: 'none' })).toEqual({});
    server.reset();
    expect(await resourceSent({ resourceAttributes: ['service.name', 'custom.'] })).toEqual({ 'service.name': 'checkout', 'custom.team': 'payments' });
    server.reset();
    expect(await resourceSent({ env: { SGP_RESOURCE_ATTRIBUTES: 'host.name' } })).toEqual({ 'host.name': 'web-1' });
  });

  it('waits for attributes that are still being detected, without the "accessed before settled" error', async () => {
    const diag = captureDiag();
    let settle: (value: string) => void = () => undefined;
    const region = new Promise<string>((resolve) => {
      settle = resolve;
    });
    const resource = resourceFromAttributes({ 'service.name': 'checkout', 'cloud.region': region });
    expect(resource.asyncAttributesPending).toBe(true);
    const sent = resourceSent({}, resource);
    setImmediate(() => settle('eu-west-1'));
    expect(await sent).toEqual({ 'service.name': 'checkout', 'cloud.region': 'eu-west-1' });
    diag.stop();
    expect(diag.messages.map((m) => m.message)).not.toContain('Accessing resource attributes before async attributes settled');
  });
});
