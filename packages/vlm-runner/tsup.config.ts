import { defineConfig } from 'tsup';
import { defineSemclipConfig } from '../../tsup.shared.ts';

// One entry per backend, plus the VLM scorers; splitting keeps the registry's lazy imports lazy,
// so the openai backend never loads ONNX Runtime and a local backend's heavy imports load only with it.
export default defineConfig(
  defineSemclipConfig(
    {
      index: 'src/index.ts',
      openai: 'src/openai/index.ts',
      local: 'src/local/index.ts',
      scorers: 'src/scorers/index.ts',
    },
    { splitting: true },
  ),
);
