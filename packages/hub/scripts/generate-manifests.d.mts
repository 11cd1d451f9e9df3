// Types for the plain .mjs build script, so src/registry.test.ts can import it type-checked.
export declare const MODELS_DIR: string;
export declare const OUTPUT: string;
/** The exact text src/_manifests.ts must contain for the given models directory. */
export declare function renderManifestsModule(modelsDir?: string): string;
