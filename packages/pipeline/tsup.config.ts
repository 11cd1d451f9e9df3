import { defineConfig } from 'tsup';
import { defineSemclipConfig } from '../../tsup.shared.ts';

export default defineConfig(defineSemclipConfig({ index: 'src/index.ts' }));
