#!/usr/bin/env node
/**
 * engram-repl: the command line. This version has one command, `demo`; the
 * node runner, status, promote and top commands arrive with the operator
 * surface (issue 5).
 */
const command = process.argv[2];
if (command === 'demo') {
  await import('./demo.js');
} else {
  console.error('usage: engram-repl demo\n(node, status, promote and top are not in this version yet)');
  process.exit(command === undefined || command === '--help' ? 0 : 2);
}
