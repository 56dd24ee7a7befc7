/** Runs in every test file (vitest setupFiles): processes a file started are stopped when it ends. */
import { afterAll } from 'vitest';
import { stopAll } from './processes.js';

afterAll(stopAll);
