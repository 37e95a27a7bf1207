// The benchmark uses the same loopback helpers as the tests.
export { freePort, sleep, waitForPort, waitForPortClosed } from '../../test/helpers/loopback.ts';
