import { describe, expect, it } from 'vitest';
import { resolveSpoolConfig } from '../../src/config.js';
import { SGPConfigError } from '../../src/errors.js';

describe('spool configuration', () => {
  it('is off by default, with a 256 MiB budget', () => {
    expect(resolveSpoolConfig({ env: {} })).toEqual({ dir: undefined, maxBytes: 256 * 1024 * 1024, warnings: [] });
  });

  it('reads SGP_SPOOL_DIR and SGP_SPOOL_MAX_BYTES, options taking precedence; an empty variable is unset', () => {
    const env = { SGP_SPOOL_DIR: '/var/spool/sgp', SGP_SPOOL_MAX_BYTES: '1048576' };
    expect(resolveSpoolConfig({ env })).toMatchObject({ dir: '/var/spool/sgp', maxBytes: 1048576 });
    expect(resolveSpoolConfig({ env, spoolDir: '/data/sgp', spoolMaxBytes: 65536 })).toMatchObject({ dir: '/data/sgp', maxBytes: 65536 });
    expect(resolveSpoolConfig({ env: { SGP_SPOOL_DIR: '  ' } }).dir).toBeUndefined();
  });

  it('a malformed SGP_SPOOL_MAX_BYTES is reported and the default used; a bad option throws', () => {
    expect(resolveSpoolConfig({ env: { SGP_SPOOL_MAX_BYTES: '10MB' } })).toEqual({
      dir: undefined,
      maxBytes: 256 * 1024 * 1024,
      warnings: ['Invalid environment variable SGP_SPOOL_MAX_BYTES: expected a whole number >= 65536, got "10MB"; using the default (268435456)'],
    });
    expect(() => resolveSpoolConfig({ spoolMaxBytes: 1000 })).toThrow(SGPConfigError);
    expect(() => resolveSpoolConfig({ spoolDir: 42 as unknown as string })).toThrow('Invalid option spoolDir: expected a string, got 42');
  });
});
