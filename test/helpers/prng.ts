/** The seeded PRNG of the simulation kit, shared by the tests. */
export { seededRandom } from '../../src/testing/prng.js';
