import { defineConfig } from 'tsup';
import { defineSemclipConfig } from '../../tsup.shared.ts';

// Two entries: the light root (devices, dtypes, caches) and `onnx` (sessions, which import
// onnxruntime-node on first use only).
export default defineConfig(defineSemclipConfig({ index: 'src/index.ts', onnx: 'src/onnx.ts' }));
