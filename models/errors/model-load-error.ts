import { CodecartoError } from './codecarto-error.js';

/** A model directory or execution provider cannot be loaded. */
export class ModelLoadError extends CodecartoError {}
