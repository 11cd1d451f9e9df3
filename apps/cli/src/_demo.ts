/** Facts about the demo picture, without loading sharp (the demo command's --help must stay fast). */
export const DEMO_SIZE = { width: 3000, height: 2000 } as const;
export const DEMO_QUESTION = 'What is the wait time?';
/** Where the sign is, in pixels of the demo image (inside the top-right tile of 2x2, 3x3 and 2x3 grids). */
export const DEMO_SIGN_BOX = { x: 2640, y: 240, width: 220, height: 116 } as const;
