import { describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCE_ATTRIBUTES, resolveExporterConfig, resolveProcessorConfig } from '../src/config.js';
import { SGPConfigError } from '../src/errors.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { API_KEY } from './helpers.js';

describe('processor configuration', () => {
  it('defaults to the official SDK constants', () => {
    expect(resolveProcessorConfig({ env: {} })).toEqual({
      maxQueueSize: 4000,
      maxExportBatchSize: 50,
      scheduledDelayMillis: 4000,
      exportTimeoutMillis: 30000,
      maxConcurrentExports: 4,
      exportOnStart: false,
      exportUnendedOnShutdown: true,
      flushOnExit: true,
      exportOnRootEnd: false,
      platform: undefined,
      waitUntil: undefined,
      logLevel: 'warn',
      warnings: [],
    });
  });

  it('reads SGP_BSP_* variables, with options taking precedence', () => {
    const env = {
      SGP_BSP_MAX_QUEUE_SIZE: '100',
      SGP_BSP_MAX_EXPORT_BATCH_SIZE: '10',
      SGP_BSP_SCHEDULE_DELAY: '250',
      SGP_BSP_EXPORT_TIMEOUT: '5000',
      SGP_EXPORT_ON_START: 'true',
    };
    expect(resolveProcessorConfig({ env })).toMatchObject({
      maxQueueSize: 100,
      maxExportBatchSize: 10,
      scheduledDelayMillis: 250,
      exportTimeoutMillis: 5000,
      exportOnStart: true,
    });
    expect(resolveProcessorConfig({ env, exportOnStart: false }).exportOnStart).toBe(false);
    expect(resolveProcessorConfig({ env, maxQueueSize: 7, maxExportBatchSize: 7 }).maxQueueSize).toBe(7);
  });

  it('treats empty variables as unset', () => {
    expect(resolveProcessorConfig({ env: { SGP_BSP_MAX_QUEUE_SIZE: '', SGP_BSP_SCHEDULE_DELAY: '  ' } })).toMatchObject({
      maxQueueSize: 4000,
      scheduledDelayMillis: 4000,
    });
  });

  it.each([
    [{ maxQueueSize: -1 }, 'Invalid option maxQueueSize: expected a whole number from 1 to 1000000, got -1'],
    [{ maxQueueSize: 1.5 }, 'Invalid option maxQueueSize: expected a whole number from 1 to 1000000, got 1.5'],
    [{ maxExportBatchSize: 0 }, 'Invalid option maxExportBatchSize: expected a whole number from 1 to 1000, got 0'],
    [{ maxExportBatchSize: 1001, maxQueueSize: 5000 }, 'expected a whole number from 1 to 1000, got 1001'],
    [{ scheduledDelayMillis: '5' }, 'Invalid option scheduledDelayMillis: expected a whole number from 0 to 2147483647, got "5"'],
    [{ maxQueueSize: 10, maxExportBatchSize: 20 }, 'maxExportBatchSize (SGP_BSP_MAX_EXPORT_BATCH_SIZE): 20 is larger than maxQueueSize (10)'],
  ])('rejects %j naming the option and value', (options, message) => {
    expect(() => resolveProcessorConfig({ env: {}, ...(options as object) })).toThrow(SGPConfigError);
    expect(() => resolveProcessorConfig({ env: {}, ...(options as object) })).toThrow(message);
  });

  it.each([
    ['SGP_BSP_MAX_QUEUE_SIZE', 'abc'],
    ['SGP_BSP_MAX_EXPORT_BATCH_SIZE', '-5'],
    ['SGP_BSP_SCHEDULE_DELAY', '4s'],
    ['SGP_BSP_EXPORT_TIMEOUT', '0'],
  ])('%s=%s: warns naming the variable and value, and uses the default (never throws)', (name, value) => {
    const config = resolveProcessorConfig({ env: { [name]: value } });
    const defaults = resolveProcessorConfig({ env: {} });
    expect(config).toEqual({ ...defaults, warnings: config.warnings });
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(new RegExp(`^Invalid environment variable ${name}: expected a whole number .*, got "${value}"; using the default \\(\\d+\\)$`));
  });

  it('SGP_EXPORT_ON_START=yes: warns and uses the default', () => {
    const config = resolveProcessorConfig({ env: { SGP_EXPORT_ON_START: 'yes' } });
    expect(config.exportOnStart).toBe(false);
    expect(config.warnings).toEqual(['Invalid environment variable SGP_EXPORT_ON_START: expected true or false, got "yes"; using the default (false)']);
  });

  it('SGP_BSP_MAX_EXPORT_BATCH_SIZE above SGP_BSP_MAX_QUEUE_SIZE: warns and uses the queue size', () => {
    const config = resolveProcessorConfig({ env: { SGP_BSP_MAX_QUEUE_SIZE: '20', SGP_BSP_MAX_EXPORT_BATCH_SIZE: '100' } });
    expect(config).toMatchObject({ maxQueueSize: 20, maxExportBatchSize: 20 });
    expect(config.warnings).toEqual(['Invalid maxExportBatchSize (SGP_BSP_MAX_EXPORT_BATCH_SIZE): 100 is larger than maxQueueSize (20); using 20']);
  });

  it('SGP_LOG_LEVEL and SGP_RESOURCE_ATTRIBUTES: read, and a bad value warns and falls back', () => {
    expect(resolveProcessorConfig({ env: { SGP_LOG_LEVEL: 'DEBUG' } }).logLevel).toBe('debug');
    const bad = resolveProcessorConfig({ env: { SGP_LOG_LEVEL: 'loud' } });
    expect(bad.logLevel).toBe('warn');
    expect(bad.warnings[0]).toContain('Invalid environment variable SGP_LOG_LEVEL: expected one of none, error, warn, info, debug, got "loud"');
    expect(resolveExporterConfig({ env: { SGP_RESOURCE_ATTRIBUTES: 'all' } }).resourceAttributes).toBe(true);
    expect(resolveExporterConfig({ env: { SGP_RESOURCE_ATTRIBUTES: 'none' } }).resourceAttributes).toEqual([]);
    expect(resolveExporterConfig({ env: { SGP_RESOURCE_ATTRIBUTES: 'service.name, host.' } }).resourceAttributes).toEqual(['service.name', 'host.']);
    const badList = resolveExporterConfig({ env: { SGP_RESOURCE_ATTRIBUTES: 'a b;c' } });
    expect(badList.resourceAttributes).toEqual(DEFAULT_RESOURCE_ATTRIBUTES);
    expect(badList.warnings[0]).toContain('Invalid environment variable SGP_RESOURCE_ATTRIBUTES');
    expect(() => resolveExporterConfig({ env: {}, logLevel: 'loud' as never })).toThrow('Invalid option logLevel');
    expect(() => resolveExporterConfig({ env: {}, resourceAttributes: 'some' as never })).toThrow('Invalid option resourceAttributes');
  });

  it('throws from the SGPSpanProcessor constructor', () => {
    expect(() => new SGPSpanProcessor({ env: {}, apiKey: API_KEY, accountId: 'a', maxQueueSize: -1 })).toThrow(
      'Invalid option maxQueueSize',
    );
  });
});

describe('exporter configuration', () => {
  it('reads credentials and base URL from the environment, keeping a path prefix', () => {
    const config = resolveExporterConfig({
      env: { SGP_API_KEY: API_KEY, SGP_ACCOUNT_ID: 'acct', SGP_CLIENT_BASE_URL: 'http://127.0.0.1:5003/public/' },
    });
    expect(config.apiKey).toBe(API_KEY);
    expect(config.accountId).toBe('acct');
    expect(config.endpoint.toString()).toBe('http://127.0.0.1:5003/public/v5/spans/batch');
    expect(config.disabledReason).toBeUndefined();
  });

  it('defaults to the public SGP API and the SDK retry policy', () => {
    const config = resolveExporterConfig({ env: {}, apiKey: 'k', accountId: 'a' });
    expect(config.endpoint.toString()).toBe('https://api.egp.scale.com/v5/spans/batch');
    expect(config.retry).toEqual({ maxAttempts: 4, initialBackoffMillis: 400, maxBackoffMillis: 20000, jitterRatio: 0.2 });
    expect(config.timeoutMillis).toBe(10000);
    expect(config.exportTimeoutMillis).toBe(30000);
    // The README's option table: request bodies of at most 1 MiB.
    expect(config.maxBatchBytes).toBe(1024 * 1024);
  });

  it('is disabled, naming what is missing, without credentials', () => {
    const config = resolveExporterConfig({ env: { SGP_API_KEY: '' } });
    expect(config.disabledReason).toBe('missing_credentials');
    expect(config.missingCredentials).toEqual(['SGP_API_KEY', 'SGP_ACCOUNT_ID']);
  });

  it('is disabled by any non-empty DISABLE_SCALE_TRACING, unless the option says otherwise', () => {
    const env = { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', DISABLE_SCALE_TRACING: '1' };
    expect(resolveExporterConfig({ env }).disabledReason).toBe('DISABLE_SCALE_TRACING');
    expect(resolveExporterConfig({ env: { ...env, DISABLE_SCALE_TRACING: '' } }).disabledReason).toBeUndefined();
    expect(resolveExporterConfig({ env, disabled: false }).disabledReason).toBeUndefined();
    expect(resolveExporterConfig({ env: {}, apiKey: 'k', accountId: 'a', disabled: true }).disabledReason).toBe(
      'disabled_by_option',
    );
  });

  it.each([
    [{ baseUrl: 'ftp://example.com' }, 'Invalid option baseUrl: expected an http(s) URL, got "ftp://example.com"'],
    [{ baseUrl: 'not a url' }, 'Invalid option baseUrl: expected an http(s) URL, got "not a url"'],
    [{ timeoutMillis: 0 }, 'Invalid option timeoutMillis: expected a whole number from 1 to 2147483647, got 0'],
    [{ maxAttempts: 0 }, 'Invalid option maxAttempts: expected a whole number from 1 to 100, got 0'],
    [{ maxBackoffMillis: 10, initialBackoffMillis: 400 }, 'Invalid option maxBackoffMillis: expected a whole number from 400 to 2147483647, got 10'],
    [{ disabled: 'yes' }, 'Invalid option disabled: expected true or false, got "yes"'],
    [{ headers: { 'x-extra': 5 } }, 'Invalid option headers: header "x-extra" must be a string'],
  ])('rejects %j', (options, message) => {
    expect(() => resolveExporterConfig({ env: {}, ...(options as object) })).toThrow(message);
  });

  it('refuses to send credentials over plain http to a host other than loopback', () => {
    const creds = { env: {}, apiKey: API_KEY, accountId: 'a' };
    expect(() => resolveExporterConfig({ ...creds, baseUrl: 'http://sgp.example.com' })).toThrow(
      'Invalid option baseUrl: Refusing to send the SGP API key over plain http to sgp.example.com: use an https:// base URL, or set allowInsecureHttp: true',
    );
    expect(resolveExporterConfig({ ...creds, baseUrl: 'http://sgp.example.com', allowInsecureHttp: true }).endpoint.host).toBe('sgp.example.com');
    for (const loopback of ['http://127.0.0.1:5003/public', 'http://localhost:8080', 'http://[::1]:9000']) {
      expect(resolveExporterConfig({ ...creds, baseUrl: loopback }).disabledReason).toBeUndefined();
    }
    // Without credentials nothing would be sent, so there is nothing to refuse.
    expect(resolveExporterConfig({ env: {}, baseUrl: 'http://sgp.example.com' }).disabledReason).toBe('missing_credentials');
  });

  it('a bad SGP_CLIENT_BASE_URL disables sgp-otel with a warning naming it, without its password', () => {
    const config = resolveExporterConfig({ env: { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: 'ws://user:hunter2@example.com' } });
    expect(config.disabledReason).toBe('invalid_base_url');
    expect(config.warnings).toEqual([
      'Invalid environment variable SGP_CLIENT_BASE_URL: expected an http(s) URL, got "ws://example.com"; sgp-otel is disabled',
    ]);
  });

  it('never shows the API key in an error about it', () => {
    let message = '';
    try {
      resolveExporterConfig({ env: {}, apiKey: { key: API_KEY } as unknown as string });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('Invalid option apiKey: expected a string, got a object');
    expect(message).not.toContain(API_KEY);
  });
});

describe('durations a timer can hold', () => {
  it.each(['scheduledDelayMillis', 'exportTimeoutMillis'])('refuses %s above 2^31 - 1 ms, which a timer would wrap to 1 ms', (option) => {
    expect(() => resolveProcessorConfig({ env: {}, [option]: 2 ** 31 })).toThrow(
      `Invalid option ${option}: expected a whole number from ${option === 'scheduledDelayMillis' ? 0 : 1} to 2147483647, got 2147483648`,
    );
    expect(resolveProcessorConfig({ env: {}, [option]: 2 ** 31 - 1 })).toMatchObject({ [option]: 2 ** 31 - 1 });
  });

  it.each(['timeoutMillis', 'initialBackoffMillis', 'maxBackoffMillis'])('refuses %s above 2^31 - 1 ms', (option) => {
    expect(() => resolveExporterConfig({ env: {}, [option]: 2 ** 31 })).toThrow(`Invalid option ${option}`);
    expect(() => resolveExporterConfig({ env: {}, [option]: 2 ** 31 })).toThrow('to 2147483647, got 2147483648');
  });

  it('refuses SGP_BSP_SCHEDULE_DELAY and SGP_BSP_EXPORT_TIMEOUT above 2^31 - 1, with a warning and the default', () => {
    const config = resolveProcessorConfig({ env: { SGP_BSP_SCHEDULE_DELAY: '9999999999', SGP_BSP_EXPORT_TIMEOUT: '2147483648' } });
    expect(config).toMatchObject({ scheduledDelayMillis: 4000, exportTimeoutMillis: 30000 });
    expect(config.warnings).toEqual([
      'Invalid environment variable SGP_BSP_SCHEDULE_DELAY: expected a whole number from 0 to 2147483647, got "9999999999"; using the default (4000)',
      'Invalid environment variable SGP_BSP_EXPORT_TIMEOUT: expected a whole number from 1 to 2147483647, got "2147483648"; using the default (30000)',
    ]);
  });
});

describe('credentials that cannot travel in a header', () => {
  it.each([
    [{ apiKey: 'sk-abc\r\nx-evil: 1', accountId: 'acct' }, 'Invalid option apiKey: character U+000D at position 7 cannot be sent in an HTTP header'],
    [{ apiKey: 'sk-abc', accountId: 'accté' }, 'Invalid option accountId: character U+00E9 at position 5 cannot be sent in an HTTP header'],
  ])('%j is an SGPConfigError naming the setting, never echoing the key', (options, message) => {
    const build = () => new SGPSpanProcessor({ env: {}, ...options });
    expect(build).toThrow(SGPConfigError);
    expect(build).toThrow(message);
    try {
      build();
    } catch (error) {
      expect((error as Error).message).not.toContain('sk-abc');
      expect((error as Error).message).not.toContain('key');
    }
  });
});

describe('credentials in the environment that cannot travel in a header', () => {
  it.each([
    [{ SGP_API_KEY: 'sk-\u200bkey', SGP_ACCOUNT_ID: 'a' }, 'Invalid environment variable SGP_API_KEY: character U+200B at position 4 cannot be sent in an HTTP header; sgp-otel is disabled'],
    [{ SGP_API_KEY: 'sk-abc', SGP_ACCOUNT_ID: 'acct\nother' }, 'Invalid environment variable SGP_ACCOUNT_ID: character U+000A at position 5 cannot be sent in an HTTP header; sgp-otel is disabled'],
  ])('%j disables sgp-otel with a warning naming the variable, never the key (the host keeps running)', (env, warning) => {
    const config = resolveExporterConfig({ env });
    expect(config.disabledReason).toBe('invalid_credentials');
    expect(config.warnings).toEqual([warning]);
    expect(new SGPSpanProcessor({ env }).getStats()).toMatchObject({ enabled: false, disabledReason: 'invalid_credentials' });
  });
});

describe('a base URL with credentials in it', () => {
  it('is refused as an option, and the password is never shown', () => {
    const build = () => resolveExporterConfig({ env: {}, apiKey: 'k', accountId: 'a', baseUrl: 'https://user:hunter2@sgp.example.com' });
    expect(build).toThrow(SGPConfigError);
    expect(build).toThrow('Invalid option baseUrl: a user name or password in the URL is not supported');
    expect(() => build()).not.toThrow(/hunter2/);
  });

  it('disables sgp-otel from the environment, and the password is never shown', () => {
    const config = resolveExporterConfig({ env: { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: 'https://hunter2@sgp.example.com/x' } });
    expect(config.disabledReason).toBe('invalid_base_url');
    expect(config.warnings[0]).toContain('Invalid environment variable SGP_CLIENT_BASE_URL: a user name or password in the URL is not supported');
    expect(config.warnings[0]).not.toContain('hunter2');
  });
});
