import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The memory test calls gc() after the bad-input corpus to compare the heap with its baseline.
export default mergeConfig(shared, defineConfig({ test: { execArgv: ['--expose-gc'] } }));
