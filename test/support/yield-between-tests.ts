import { afterEach } from 'vitest';

// Many suites run the CLIs with spawnSync, which blocks the worker's event loop. Vitest's worker talks to the
// runner over birpc with a fixed 60 s timeout, and the runner's replies are only read when the loop reaches
// its poll phase: a file whose synchronous tests add up to more than 60 s (verify-cli: 12 tests, 62 s on a
// loaded machine) fails the run with "Timeout calling onTaskUpdate" although every test passed
// (vitest-dev/vitest#8164). One turn of the event loop after each test reads the replies in time.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
