export { createServer } from './_server.js';
export type { SemclipServer } from './_server.js';
export { defineServerConfig, resolveServerConfig, serverConfigFromEnv, mergeServerConfigs, parseByteSize, DEFAULT_LIMITS, SERVER_ENV } from './_config.js';
export type { ServerConfig, ResolvedServerConfig, ServerLimits, RemoteImageOptions } from './_config.js';
export { HTTP_STATUS_BY_CODE, SERVER_ERROR_CODES } from './_errors.js';
export type { ServerErrorCode } from './_errors.js';
export type { LogEntry } from './_log.js';
export { isAddressAllowed } from './_remote.js';
