declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl_reflect's "main" is CommonJS under "type": "module"; its ES module
// file is imported directly and typed from the package's own declarations.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
