import { describe, expect, it } from 'vitest';
import { DTYPES, DTYPE_SUFFIX, isDtype, onnxFileName } from './index.js';

describe('the dtype table', () => {
  it('names the files transformers.js loads', () => {
    expect(DTYPES).toEqual(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']);
    expect(onnxFileName('vision_model', 'fp32')).toBe('vision_model.onnx');
    expect(onnxFileName('vision_model', 'q8')).toBe('vision_model_quantized.onnx');
    expect(onnxFileName('decoder_model_merged', 'q4f16')).toBe('decoder_model_merged_q4f16.onnx');
    expect(DTYPE_SUFFIX.fp16).toBe('_fp16');
  });

  it('knows only its own keys', () => {
    expect(isDtype('q4')).toBe(true);
    expect(isDtype('toString')).toBe(false);
    expect(isDtype(8)).toBe(false);
    expect(() => onnxFileName('text_model', 'q3' as never)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', expected: expect.stringContaining('fp32, fp16, q8') }),
    );
  });
});
