import { describe, expect, it } from 'vitest';
import { LOCAL_DTYPES, LOCAL_SESSIONS, parseDtypeSpec } from './index.js';

describe('parseDtypeSpec (the --dtype flag)', () => {
  it.each([
    ['q4', 'q4'],
    [' fp32 ', 'fp32'],
    ['vision_encoder=fp16,decoder_model_merged=q4', { vision_encoder: 'fp16', decoder_model_merged: 'q4' }],
    ['embed_tokens = int8', { embed_tokens: 'int8' }],
  ] as const)('reads %j', (text, expected) => {
    expect(parseDtypeSpec(text)).toEqual(expected);
  });

  it.each(['', 'q3', 'vision_encoder', 'vision=fp16', 'vision_encoder=fp17', 'vision_encoder=fp16,vision_encoder=q4', 'a=b=c'])(
    'rejects %j naming the valid values',
    (text) => {
      expect(() => parseDtypeSpec(text)).toThrowError(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('decoder_model_merged') }),
      );
    },
  );

  it('lists the variants and sessions', () => {
    expect(LOCAL_DTYPES).toContain('q4f16');
    expect(LOCAL_SESSIONS).toEqual(['vision_encoder', 'embed_tokens', 'decoder_model_merged']);
  });
});
