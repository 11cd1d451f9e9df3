import { defineConfig } from 'tsup';
import { defineSemclipConfig } from '../../tsup.shared.ts';

// One executable entry; command modules are split out so each loads only when it runs.
export default defineConfig(
  defineSemclipConfig({ cli: 'src/cli.ts' }, { dts: false, splitting: true, banner: { js: '#!/usr/bin/env node' } }),
);
