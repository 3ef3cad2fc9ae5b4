// The deterministic simulation, seeds 1-125 (seedsB.test.ts runs 126-250): real
// nodes on a simulated network, disks and clocks under a seeded fault schedule.
import { test } from 'uvu';
import { seedRange } from './seedRange.js';

seedRange(1, 125);
test.run();
