export { LATEST_SCHEMA_VERSION } from './migrations/index.js';
export { openSqliteCatalog, type SqliteCatalogOptions } from './sqlite/open.js';
export * from './types.js';
