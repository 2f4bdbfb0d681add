export { API_PREFIX, type ApiOptions, buildApi } from './app.js';
export { isLoopback, type RunningServer, type ServerOptions, startServer } from './server.js';
export { fingerprintOf, loadTls, type TlsMaterial } from './tls.js';
export { VERSION } from './version.js';
