/** `engram-repl demo` (interim: the in-process demo until the child-process demo replaces it). */
export async function demoCommand(): Promise<number> {
  await import('../demo.js');
  return 0;
}
