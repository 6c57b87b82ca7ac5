#include "analysis/lint_html.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/lint_report.h"

namespace bloom::analysis {
namespace {

// JSON inside <script type="application/json">: no "<" at all, so no "</script>" or "<!--" can
// end the element early. "<" only occurs inside strings, where \u003c means the same.
std::string script_json(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    if (c == '<') out += "\\u003c";
    else out += c;
  }
  return out;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* kStyle = R"CSS(
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 12px 20px; border-bottom: 1px solid #ddd; background: #fafafa; }
header h1 { font-size: 18px; margin: 0 0 4px; }
.verdict { display: inline-block; padding: 2px 8px; border-radius: 4px; font-weight: 600; }
.verdict.coordination-free { background: #b7e1b0; }
.verdict.coordination-acknowledged { background: #f5d08a; }
.verdict.needs-coordination { background: #f08a8a; }
main { display: grid; grid-template-columns: minmax(360px, 1fr) minmax(420px, 1fr); gap: 16px; padding: 16px 20px; }
main > section.graph-col { position: sticky; top: 0; align-self: start; }
#graph { overflow: auto; border: 1px solid #ddd; border-radius: 4px; padding: 8px; max-height: 80vh; }
#graph svg { max-width: 100%; height: auto; }
#graph .node.poo polygon { stroke: #c00; stroke-width: 4px; }
#graph .node.lit polygon { stroke: #06c; stroke-width: 5px; }
.legend span { display: inline-block; padding: 0 6px; margin-right: 4px; border-radius: 3px; }
.finding { border: 1px solid #ddd; border-left: 5px solid #c00; border-radius: 4px; padding: 8px 12px; margin-bottom: 10px; cursor: pointer; }
.finding.race { border-left-color: #e69500; }
.finding.suppressed { border-left-color: #999; opacity: .75; }
.finding.selected { background: #eef5ff; }
.finding h3 { font-size: 14px; margin: 0 0 4px; }
.finding ol, .finding ul { margin: 4px 0; padding-left: 22px; }
#sources { grid-column: 1 / -1; }
.file h3 { font: 600 13px monospace; margin: 12px 0 4px; }
.src { font: 12px/1.5 monospace; border: 1px solid #ddd; border-radius: 4px; overflow-x: auto; }
.src div { white-space: pre; padding-right: 12px; }
.src div::before { content: attr(data-n); display: inline-block; width: 4em; padding-right: 8px; text-align: right; color: #999; background: #f4f4f4; margin-right: 8px; }
.src div.flag { background: #fde8e8; }
.src div.lit { background: #fff3b0; }
a { color: #0645ad; }
)CSS";

// Renders the findings and the sources from the two JSON blocks, lights a finding's path when it
// is clicked, and says "ok" in #render-status when everything is in place (the CI check opens
// the page in headless Chromium and reads it).
const char* kScript = R"JS(
(function () {
  const status = document.getElementById('render-status');
  try {
    const report = JSON.parse(document.getElementById('lint-report').textContent);
    const sources = JSON.parse(document.getElementById('lint-sources').textContent);
    const files = Object.keys(sources);
    const fileIndex = new Map(files.map((f, i) => [f, i]));
    const lineId = (span) => 'L' + fileIndex.get(span.file) + '-' + span.line;
    const link = (span) => {
      const a = document.createElement('a');
      a.href = '#' + lineId(span);
      a.textContent = span.file + ':' + span.line + ':' + span.column;
      return a;
    };
    const node = (name) => document.getElementById('coll_' + name);
    const el = (tag, text, cls) => {
      const e = document.createElement(tag);
      if (text !== undefined) e.textContent = text;
      if (cls) e.className = cls;
      return e;
    };

    const srcRoot = document.getElementById('sources');
    files.forEach((f, i) => {
      const box = el('section', undefined, 'file');
      box.appendChild(el('h3', f));
      const src = el('div', undefined, 'src');
      sources[f].split('\n').forEach((text, n) => {
        const line = el('div', text);
        line.id = 'L' + i + '-' + (n + 1);
        line.dataset.n = n + 1;
        src.appendChild(line);
      });
      box.appendChild(src);
      srcRoot.appendChild(box);
    });

    const pathOf = (f) => {
      const hops = [];
      for (let h = f.path; h !== null && h !== undefined; h = report.hops[h].parent) hops.unshift(report.hops[h]);
      return hops;
    };
    const lit = [];
    const clear = () => { lit.forEach((e) => e.classList.remove('lit', 'selected')); lit.length = 0; };
    const light = (e, cls) => { if (e) { e.classList.add(cls); lit.push(e); } };

    const list = document.getElementById('findings');
    if (report.findings.length === 0) list.appendChild(el('p', 'No point of order and no race: every output is coordination-free.'));
    report.findings.forEach((f, i) => {
      const card = el('article', undefined, 'finding ' + f.kind + (f.suppressed ? ' suppressed' : ''));
      card.dataset.finding = i;
      card.id = 'finding-' + i;
      card.appendChild(el('h3', (f.kind === 'race' ? 'race' : 'point of order') + ': ' + f.operation + ' in `' + f.collection + '`' +
                                  (f.suppressed ? ' (suppressed)' : '')));
      const at = el('p');
      at.appendChild(link(f.span));
      at.appendChild(document.createTextNode(' ' + f.message));
      card.appendChild(at);
      const hops = pathOf(f);
      if (hops.length) {
        card.appendChild(el('div', 'path from ' + f.source + ':'));
        const ol = el('ol');
        hops.forEach((h) => {
          const li = el('li', h.collection + ' (' + h.timing + ') ');
          li.appendChild(link(h.span));
          ol.appendChild(li);
        });
        card.appendChild(ol);
      }
      if (f.remedies && f.remedies.length) {
        card.appendChild(el('div', 'remedies:'));
        const ul = el('ul');
        f.remedies.forEach((m) => ul.appendChild(el('li', m)));
        card.appendChild(ul);
      }
      const flagged = document.getElementById(lineId(f.span));
      if (flagged) flagged.classList.add('flag');
      const n = node(f.collection);
      if (n && !f.suppressed) n.classList.add('poo');
      card.addEventListener('click', (ev) => {
        if (ev.target.tagName === 'A') return;
        clear();
        light(card, 'selected');
        hops.forEach((h) => { light(node(h.collection), 'lit'); light(document.getElementById(lineId(h.span)), 'lit'); });
        light(node(f.collection), 'lit');
        light(document.getElementById(lineId(f.span)), 'lit');
      });
      list.appendChild(card);
    });
    // A link to #finding-N opens the page with that finding selected.
    const m = /^#finding-(\d+)$/.exec(location.hash);
    if (m && document.getElementById('finding-' + m[1])) document.getElementById('finding-' + m[1]).click();
    status.dataset.status = 'ok';
    status.textContent = 'ok';
  } catch (e) {
    status.dataset.status = 'error';
    status.textContent = String(e);
    throw e;
  }
})();
)JS";

}  // namespace

std::string render_lint_html(const SourceManager& sm, const sema::Program& p, const CalmReport& r, const std::string& graph_svg,
                             const std::string& tool_version) {
  std::ostringstream json;
  write_lint_json(sm, p, r, json);
  nlohmann::json sources = nlohmann::json::object();
  for (FileId f = 0; f < sm.size(); ++f) sources[sm.file(f).path] = sm.file(f).text;
  std::string main_file = sm.size() > 0 ? sm.file(0).path : "";

  size_t unsuppressed = r.unsuppressed(), total = r.findings.size();
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>bloom lint: " << escape_html(main_file)
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<header>\n<h1>bloom lint " << escape_html(main_file) << "</h1>\n"
    << "<span class=\"verdict " << to_string(r.verdict()) << "\">" << describe(r.verdict()) << "</span> " << total
    << (total == 1 ? " finding" : " findings") << " (" << unsuppressed << " not suppressed) · bloom " << escape_html(tool_version)
    << " · docs/lint.md explains the labels\n</header>\n<main>\n<section class=\"graph-col\">\n<h2>Dependency graph</h2>\n"
    << "<p class=\"legend\">labels: <span style=\"background:#b7e1b0\">M monotone</span><span style=\"background:#a9c8f0\">A "
       "asynchronous</span><span style=\"background:#f5d08a\">N non-monotone</span><span style=\"background:#f08a8a\">D "
       "diffluent</span> · red edges are non-monotone, dashed ones asynchronous, dotted ones deferred; a red outline marks "
       "a point of order</p>\n<div id=\"graph\">";
  if (size_t at = graph_svg.find("<svg"); at != std::string::npos) o << graph_svg.substr(at);
  else o << "<p>(no graph: Graphviz's dot was not available)</p>";
  o << "</div>\n</section>\n<section>\n<h2>Findings</h2>\n<div id=\"findings\"></div>\n</section>\n"
    << "<section id=\"sources\">\n<h2>Sources</h2>\n</section>\n</main>\n"
    << "<div id=\"render-status\" data-status=\"pending\" hidden>pending</div>\n"
    << "<script type=\"application/json\" id=\"lint-report\">" << script_json(json.str()) << "</script>\n"
    << "<script type=\"application/json\" id=\"lint-sources\">"
    << script_json(sources.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) << "</script>\n<script>" << kScript
    << "</script>\n</body>\n</html>\n";
  return o.str();
}

}  // namespace bloom::analysis
