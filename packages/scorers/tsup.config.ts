import { defineConfig } from 'tsup';
import { defineSemclipConfig } from '../../tsup.shared.ts';

// One entry per scorer family, so `@semclip/scorers/clip` never loads the OCR engine and vice versa;
// splitting keeps the registry's lazy imports lazy (heavy externals load only with their family).
export default defineConfig(
  defineSemclipConfig({
    index: 'src/index.ts',
    random: 'src/random/index.ts',
    ocr: 'src/ocr/index.ts',
    clip: 'src/clip/index.ts',
    siglip: 'src/siglip/index.ts',
    distant: 'src/distant/index.ts',
  }, { splitting: true }),
);
