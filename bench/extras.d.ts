// 'sleeve:extras' is assembled by bench/build.mjs from the runtime's op
// modules that exist (ops it may not export yet); bench/sleeve.ts reads it by name.
declare module 'sleeve:extras' {
  const names: string[];
  export { names };
}
