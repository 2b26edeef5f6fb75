/** The tools' nullable fields use the contracts' own helper (the schemas in indexer/ need it too). */
export { orNull } from '../indexer/workspace/or-null.js';
