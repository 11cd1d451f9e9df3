import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'DEFAULT_LIMITS',
    'HTTP_STATUS_BY_CODE',
    'SERVER_ENV',
    'SERVER_ERROR_CODES',
    'createServer',
    'defineServerConfig',
    'isAddressAllowed',
    'mergeServerConfigs',
    'parseByteSize',
    'resolveServerConfig',
    'serverConfigFromEnv',
  ]);
});
