// The Bloom extension: the `bloom` language (package.json: the TextMate grammar and
// language-configuration.json) and a client of its language server, `bloom lsp`, over stdio.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration('bloom');
  const command = config.get('server.path') || 'bloom';
  const args = config.get('server.args') || ['lsp'];
  return { command, args, transport: TransportKind.stdio };
}

async function start(context) {
  client = new LanguageClient('bloom', 'Bloom', serverOptions(), {
    documentSelector: [{ language: 'bloom' }],
    // Imports are read relative to the document's file: a change of a .bloom file on disk may
    // change another file's diagnostics.
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.bloom') },
  });
  try {
    await client.start();
  } catch (err) {
    const { command } = serverOptions();
    vscode.window.showErrorMessage(
      `Bloom: could not start the language server \`${command}\` (set bloom.server.path): ${err.message || err}`);
  }
}

async function stop() {
  if (client) {
    const c = client;
    client = undefined;
    if (c.isRunning()) await c.stop();
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('bloom.restartServer', async () => {
      await stop();
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('bloom.server')) {
        await stop();
        await start(context);
      }
    }));
  await start(context);
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
