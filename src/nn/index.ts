export { Module, ModuleList, StateDictError, buffer } from './module';
export type { LoadResult } from './module';
export { Linear } from './linear';
export { Embedding } from './embedding';
export { LayerNorm } from './layernorm';
export { Dropout, DROPOUT_IMPLS, getDropoutImpl, setDropoutImpl } from './dropout';
export type { DropoutImpl } from './dropout';
export { ACTIVATIONS, activation } from './activations';
export type { Activation } from './activations';
