/**
 * Root hooks shared by every test file. Kept minimal: per-suite resources (redis-server, nginx, ffmpeg
 * fixtures, origins) are started by the suites that need them through the helpers in this folder.
 */
export const mochaHooks = {};
