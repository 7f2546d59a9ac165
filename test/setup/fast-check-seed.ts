// Property tests (fast-check) replay the same cases on every run, so a CI result is
// reproducible; a failure prints its seed and path. FC_SEED=<n> explores other cases.
import fc from 'fast-check';

const seed = process.env.FC_SEED === undefined ? 20240501 : Number(process.env.FC_SEED);
if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer, got ${process.env.FC_SEED}`);
fc.configureGlobal({ seed });
