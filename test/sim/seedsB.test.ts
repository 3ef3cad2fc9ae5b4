// The deterministic simulation, seeds 126-250 (seedsA.test.ts runs 1-125).
import { test } from 'uvu';
import { seedRange } from './seedRange.js';

seedRange(126, 250);
test.run();
