// Seeded randomness for test helpers and thread fixtures: the project's one PRNG, defined in
// workers/random.ts (no imports: safe in any worker), so a seed replays a test exactly.

export { seededRandom } from '../../workers/random.js';
