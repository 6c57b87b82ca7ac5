#!/usr/bin/env node
// The extension as VS Code would load it from the .vsix, unpacked in DIR (check_editors.sh vsix):
//   node check_vsix.js DIR SOURCE_PACKAGE_JSON
// Its package.json is the source's; the grammar and the language configuration it names are
// there and parse; extension.js loads with the vsix's own node_modules (vscode-languageclient
// and everything it requires: a missing file throws here), against a stand-in for the `vscode`
// module that VS Code provides; activate() starts a LanguageClient for the `bloom` language
// whose server is the bloom.server.path / bloom.server.args settings over stdio.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const [dir, sourcePackage] = process.argv.slice(2);
const ext = path.resolve(dir, 'extension');
function fail(msg) { console.error(`FAIL: ${msg}`); process.exit(1); }
const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

const pkg = readJson(path.join(ext, 'package.json'));
const src = readJson(sourcePackage);
for (const k of ['name', 'publisher', 'version', 'main', 'engines', 'contributes', 'dependencies']) {
  if (JSON.stringify(pkg[k]) !== JSON.stringify(src[k])) fail(`package.json in the vsix: ${k} differs from editors/vscode/package.json`);
}
const lang = pkg.contributes.languages.find((l) => l.id === 'bloom');
if (!lang || !lang.extensions.includes('.bloom')) fail('no language bloom for .bloom files');
const grammar = pkg.contributes.grammars.find((g) => g.language === 'bloom');
if (!grammar || grammar.scopeName !== 'source.bloom') fail('no grammar source.bloom for bloom');
if (readJson(path.join(ext, grammar.path)).scopeName !== 'source.bloom') fail(`${grammar.path}: not source.bloom`);
const conf = readJson(path.join(ext, lang.configuration));
if (!conf.comments || conf.comments.lineComment !== '//') fail('language configuration: no line comment //');
const props = pkg.contributes.configuration.properties;
if (props['bloom.server.path'].default !== 'bloom' || JSON.stringify(props['bloom.server.args'].default) !== '["lsp"]') {
  fail('settings: bloom.server.path / bloom.server.args do not default to `bloom lsp`');
}

// A stand-in for the API VS Code gives extensions: what vscode-languageclient touches when it
// is loaded, and what extension.js calls; any other property is a no-op function.
const settings = { 'server.path': '/opt/bloom/bin/bloom', 'server.args': ['lsp', '--stdio'] };
const noop = () => ({ dispose() {} });
const stub = new Proxy({
  workspace: new Proxy({
    getConfiguration: (section) => ({ get: (k) => (section === 'bloom' ? settings[k] : undefined) }),
    createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
    onDidChangeConfiguration: noop,
  }, { get: (t, k) => (k in t ? t[k] : noop) }),
  commands: { registerCommand: (name) => ({ name, dispose() {} }) },
  window: new Proxy({}, { get: () => noop }),
}, { get: (t, k) => (k in t ? t[k] : class {}) });
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return stub;
  return load.call(this, request, parent, isMain);
};

// The dependency as packaged: resolved from the vsix's extension/ folder, not from the build's
// node_modules.
const entry = path.join(ext, pkg.main);
const clientPath = require.resolve('vscode-languageclient/node', { paths: [ext] });
if (!clientPath.startsWith(path.join(ext, 'node_modules') + path.sep)) fail(`vscode-languageclient resolved outside the vsix: ${clientPath}`);
const lc = require(clientPath);
const started = [];
lc.LanguageClient = class {
  constructor(id, name, server, client) { Object.assign(this, { id, name, server, client }); }
  start() { started.push(this); return Promise.resolve(); }
  isRunning() { return true; }
  stop() { return Promise.resolve(); }
};
const extension = require(entry);
if (typeof extension.activate !== 'function' || typeof extension.deactivate !== 'function') fail('extension.js exports no activate/deactivate');
const context = { subscriptions: [] };
extension.activate(context).then(async () => {
  if (started.length !== 1) fail(`activate() started ${started.length} clients`);
  const c = started[0];
  if (c.server.command !== settings['server.path']) fail(`server command ${c.server.command}, not the bloom.server.path setting`);
  if (JSON.stringify(c.server.args) !== JSON.stringify(settings['server.args'])) fail(`server args ${JSON.stringify(c.server.args)}`);
  if (c.server.transport !== lc.TransportKind.stdio) fail('the server is not started over stdio');
  if (JSON.stringify(c.client.documentSelector) !== '[{"language":"bloom"}]') fail(`document selector ${JSON.stringify(c.client.documentSelector)}`);
  if (!context.subscriptions.some((d) => d.name === 'bloom.restartServer')) fail('no bloom.restartServer command');
  await extension.deactivate();
  console.log(`ok: the vsix's extension.js starts \`${c.server.command} ${c.server.args.join(' ')}\` for the bloom language`);
}, (e) => fail(`activate: ${e.stack || e}`));
