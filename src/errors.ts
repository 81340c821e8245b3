/** Moved to src/errors/: kept for imports not yet changed. */
export * from './errors/index.js';
