#include "sim/timeline.h"

#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace bloom::rt::sim {

namespace {

using json = nlohmann::json;

// Resolves the trace into what the page draws, so that its script only lays out: rows (one per
// event that takes a place on the time axis, in step order), ticks, messages with both ends
// known, and marks (faults, violations, errors). Ticks, messages and marks refer to lanes, rows
// and each other by index. Message ids go out as strings: a JavaScript number holds 53 bits.
class Timeline {
 public:
  Timeline(const Trace& t, const TickDerivations* derived) : trace_(t), derived_(derived) {
    for (const auto& node : t.nodes) lane(node);
    for (const auto& e : t.events) add(e);
  }

  json data() const {
    const Trace& t = trace_;
    json header = {{"deployment", t.deployment}, {"seed", std::to_string(t.seed)}, {"faults", t.faults},  {"end", t.end},
                   {"violations", t.violations}, {"invariant", t.invariant},       {"outputs", t.outputs}};
    return {{"header", header}, {"lanes", lanes_}, {"rows", rows_}, {"ticks", ticks_}, {"messages", messages_}, {"marks", marks_}};
  }

 private:
  const Trace& trace_;
  const TickDerivations* derived_;
  std::map<std::string, int> incarnation_;  // per node: restarts so far
  std::vector<std::string> lanes_;
  std::map<std::string, int> lane_index_;
  std::vector<int> last_tick_;  // per lane: its latest tick so far, -1 before its first
  std::unordered_map<uint64_t, size_t> message_index_;
  json rows_ = json::array(), ticks_ = json::array(), messages_ = json::array(), marks_ = json::array();

  // A node missing from the trace's list of nodes still gets a lane, so that no event is hidden.
  int lane(const std::string& node) {
    auto [it, added] = lane_index_.emplace(node, static_cast<int>(lanes_.size()));
    if (added) {
      lanes_.push_back(node);
      last_tick_.push_back(-1);
    }
    return it->second;
  }

  int row(const Event& e) {
    rows_.push_back({e.step, e.time_us});
    return static_cast<int>(rows_.size()) - 1;
  }

  // The message with this id; an id that no Send introduced gets a placeholder without a sender
  // (drawn as no arrow), so that a tick still lists everything it received.
  size_t message(uint64_t id) {
    auto [it, added] = message_index_.emplace(id, messages_.size());
    if (added)
      messages_.push_back({{"id", std::to_string(id)},
                           {"from", -1},
                           {"to", -1},
                           {"channel", ""},
                           {"tuples", json::array()},
                           {"sent_tick", -1},
                           {"sent_row", -1},
                           {"end", "in flight"},
                           {"end_row", -1},
                           {"end_tick", -1},
                           {"detail", ""},
                           {"dup_of", -1}});
    return it->second;
  }

  void mark(const Event& e) {
    marks_.push_back({{"kind", to_string(e.kind)},
                      {"row", row(e)},
                      {"lane", e.node.empty() ? -1 : lane(e.node)},
                      {"detail", e.detail},
                      {"groups", e.groups},
                      {"tuples", e.tuples}});
  }

  void add(const Event& e) {
    switch (e.kind) {
      case EventKind::Tick: {
        const int node = lane(e.node);
        const int index = static_cast<int>(ticks_.size());
        const int r = row(e);
        json received = json::array();
        for (uint64_t id : e.deliver) {
          const size_t m = message(id);
          json& msg = messages_[m];
          msg["end"] = "delivered";
          msg["end_row"] = r;
          msg["end_tick"] = index;
          if (msg["to"] == -1) msg["to"] = node;
          received.push_back(m);
        }
        json derived = json::array();
        if (derived_)
          if (auto it = derived_->find({e.node, incarnation_[e.node], e.tick}); it != derived_->end())
            for (const auto& d : it->second) derived.push_back({{"rule", d.rule}, {"how", d.how}, {"tuples", d.tuples}});
        ticks_.push_back({{"node", node},
                          {"tick", e.tick},
                          {"row", r},
                          {"received", received},
                          {"sent", json::array()},
                          {"stdout", e.stdout_lines},
                          {"timers", e.timers},
                          {"derived", derived}});
        last_tick_[node] = index;
        return;
      }
      case EventKind::Send: {
        const int from = lane(e.node), to = lane(e.to);
        const size_t m = message(e.message);
        // The arrow starts at the sender's latest tick (the one that sent it), or at a row of its
        // own when the sender has not ticked yet.
        const int tick = last_tick_[from];
        const int sent_row = tick >= 0 ? ticks_[tick]["row"].get<int>() : row(e);
        if (tick >= 0) ticks_[tick]["sent"].push_back(m);
        json& msg = messages_[m];
        msg["from"] = from;
        msg["to"] = to;
        msg["channel"] = e.channel;
        msg["tuples"] = e.tuples;
        msg["sent_tick"] = tick;
        msg["sent_row"] = sent_row;
        return;
      }
      case EventKind::Dup: {
        // The copy leaves with the original, from the same tick; it ends on its own.
        const size_t original = message(e.of), m = message(e.message);
        json& copy = messages_[m];
        for (const char* key : {"from", "to", "channel", "tuples", "sent_tick", "sent_row"}) copy[key] = messages_[original][key];
        copy["dup_of"] = original;
        if (const int tick = copy["sent_tick"].get<int>(); tick >= 0) ticks_[tick]["sent"].push_back(m);
        return;
      }
      case EventKind::Drop:
      case EventKind::Lost: {
        const size_t m = message(e.message);
        const int r = row(e);
        json& msg = messages_[m];
        msg["end"] = e.kind == EventKind::Drop ? "dropped" : "lost";
        msg["end_row"] = r;
        msg["detail"] = e.detail;
        return;
      }
      case EventKind::Restart: ++incarnation_[e.node]; return mark(e);
      case EventKind::Crash:
      case EventKind::Partition:
      case EventKind::Heal:
      case EventKind::Violation:
      case EventKind::Error: return mark(e);
    }
  }
};

// The page around the data: styles and the skeleton, then (after the JSON) the renderer.
constexpr const char* kPageHead = R"PAGE(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bloom sim timeline</title>
<style>
:root { --fg: #1d2330; --muted: #687081; --line: #d7dbe2; --accent: #1a5fb4; --sel: #f59e0b;
  --drop: #d62728; --lost: #e8590c; --part: #7048c8; --heal: #2b8a4b; --bad: #c81e1e; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { display: flex; flex-direction: column; color: var(--fg); background: #fff;
  font: 13px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
header { padding: 10px 16px 8px; border-bottom: 1px solid var(--line); background: #f7f8fa; }
h1 { font-size: 16px; margin: 0 0 6px; font-weight: 600; }
h1 .sub { color: var(--muted); font-weight: 400; }
#summary { display: flex; flex-wrap: wrap; gap: 2px 22px; }
.label { color: var(--muted); margin-right: 6px; }
#violations { margin-top: 4px; display: flex; gap: 6px; align-items: baseline; }
#violations ul { margin: 0; padding: 0; list-style: none; max-height: 4.5em; overflow: auto; }
#violations li code, .bad { color: var(--bad); font-weight: 600; }
#outputs { margin-top: 4px; }
#outputs summary { cursor: pointer; color: var(--muted); }
#outputs pre { margin: 2px 0 6px 14px; max-height: 12em; overflow: auto; }
#legend { margin-top: 6px; display: flex; flex-wrap: wrap; gap: 2px 16px; color: var(--muted); font-size: 12px; }
#legend .key { display: inline-flex; align-items: center; gap: 5px; }
#legend svg { overflow: visible; }
#render-status[data-status="ok"], #render-status[data-status="pending"] { display: none; }
#render-status { padding: 6px 16px; background: #fde2e2; color: var(--bad); font-weight: 600; }
main { flex: 1; display: flex; min-height: 0; }
#scroll { flex: 1; overflow: auto; position: relative; }
#lane-head { position: sticky; top: 0; z-index: 2; background: #fff;
  border-bottom: 1px solid var(--line); }
#lane-head svg, #chart { display: block; }
#panel { width: 400px; flex: none; overflow: auto; padding: 12px 16px; border-left: 1px solid var(--line); background: #fbfbfc; }
#panel h2 { font-size: 15px; margin: 0 0 8px; }
#panel h3 { font-size: 13px; margin: 14px 0 4px; color: var(--muted); font-weight: 600; }
#panel .hint, #panel .none { color: var(--muted); margin: 2px 0; }
dl.kv { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
ul.msgs, ul.tuples, ul.groups { list-style: none; margin: 0; padding: 0; }
ul.msgs > li { margin: 0 0 8px; }
ul.tuples li { border-left: 3px solid var(--line); padding: 1px 0 1px 7px; margin: 2px 0; overflow-wrap: anywhere; }
pre.stdout { background: #eef0f3; padding: 6px 8px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.fate { font-size: 11px; padding: 0 5px; border-radius: 7px; margin-left: 6px; background: #e7ebf0; color: var(--muted); }
.fate.dropped, .fate.lost { background: #fde2e2; color: var(--drop); }
.fate.in-flight { background: #fff3d6; color: #8a5a00; }
button.link { border: 0; background: none; padding: 0; font: inherit; color: var(--accent); cursor: pointer; }
button.link:hover { text-decoration: underline; }
svg text { font-size: 11px; fill: var(--fg); }
.colhead { fill: var(--muted); font-size: 11px; }
.lane-name { font-weight: 600; font-size: 12px; }
.stripe { fill: #f6f7f9; }
.gutter text { fill: var(--muted); font-size: 10px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.lane-line { stroke: #c3c8d1; stroke-width: 2; }
.down { stroke: var(--drop); stroke-width: 2; stroke-dasharray: 3 4; }
.partition-band { fill: var(--part); fill-opacity: 0.07; }
.halo { paint-order: stroke; stroke: #fff; stroke-width: 3.5px; stroke-linejoin: round; }
.tick { cursor: pointer; }
.tick circle { fill: #fff; stroke: #3b4454; stroke-width: 1.6; }
.tick.printed circle { fill: #ffd43b; }
.tick text { fill: var(--muted); font-size: 10px; }
.tick:hover circle { stroke-width: 2.6; }
.tick.sel circle { stroke: var(--sel); stroke-width: 3.2; }
.msg { cursor: pointer; }
.msg .hit { stroke: transparent; stroke-width: 10; fill: none; pointer-events: stroke; }
.msg .arrow { fill: none; stroke-width: 1.4; }
.msg.in-flight .arrow { stroke-dasharray: 5 4; }
.msg .dup-core { fill: none; stroke: #fff; stroke-width: 1.2; }
.msg.dup .arrow { stroke-width: 3.4; }
.msg:hover .arrow { stroke-width: 2.6; }
.msg.sel .arrow { stroke-width: 3; filter: drop-shadow(0 0 2px var(--sel)); }
.msg .x { stroke: var(--drop); stroke-width: 2.6; stroke-linecap: round; }
.msg.lost .x { stroke: var(--lost); }
.mark { cursor: pointer; }
.mark line { stroke-width: 1.6; stroke-dasharray: 6 3; }
.mark.partition line { stroke: var(--part); } .mark.partition text { fill: var(--part); }
.mark.heal line { stroke: var(--heal); } .mark.heal text { fill: var(--heal); }
.mark.violation line, .mark.error line { stroke: var(--bad); stroke-dasharray: none; }
.mark.violation text, .mark.error text { fill: var(--bad); font-weight: 600; }
.mark .on-lane { fill: var(--bad); }
.mark.crash rect { fill: var(--drop); } .mark.restart rect { fill: var(--heal); }
.mark.crash text, .mark.restart text { fill: #fff; font-size: 10px; font-weight: 600; }
.mark.sel line { stroke-width: 3; } .mark.sel rect { stroke: var(--sel); stroke-width: 2.5; }
</style>
</head>
<body>
<header>
  <h1>bloom sim <span class="sub">&middot;</span> <span id="title"></span></h1>
  <div id="summary"></div>
  <div id="violations"></div>
  <details id="outputs"><summary>outputs</summary></details>
  <div id="legend">
    <span class="key"><svg width="12" height="12"><circle cx="6" cy="6" r="5" fill="#fff" stroke="#3b4454" stroke-width="1.6"/></svg>tick</span>
    <span class="key"><svg width="12" height="12"><circle cx="6" cy="6" r="5" fill="#ffd43b" stroke="#3b4454" stroke-width="1.6"/></svg>tick that printed</span>
    <span class="key"><svg width="22" height="12"><path d="M1,6 H21" stroke="#687081" stroke-width="3.4"/><path d="M1,6 H21" stroke="#fff" stroke-width="1.2"/></svg>duplicated</span>
    <span class="key"><svg width="22" height="12"><path d="M1,6 H21" stroke="#687081" stroke-width="1.4" stroke-dasharray="5 4"/></svg>in flight at the end</span>
    <span class="key"><svg width="12" height="12"><path d="M1,1 L11,11 M11,1 L1,11" stroke="#d62728" stroke-width="2.6" stroke-linecap="round"/></svg>dropped</span>
    <span class="key"><svg width="12" height="12"><path d="M1,1 L11,11 M11,1 L1,11" stroke="#e8590c" stroke-width="2.6" stroke-linecap="round"/></svg>lost</span>
    <span class="key"><svg width="12" height="14"><path d="M6,0 V14" stroke="#d62728" stroke-width="2" stroke-dasharray="3 4"/></svg>node down</span>
    <span class="key"><svg width="16" height="12"><rect width="16" height="12" fill="#7048c8" fill-opacity="0.15"/></svg>partitioned</span>
  </div>
</header>
<div id="render-status" data-status="pending">rendering&hellip;</div>
<script>
// Installed before the renderer so that any error in it, even one in parsing it, is reported.
window.onerror = function (message, source, line) {
  var status = document.getElementById('render-status');
  status.setAttribute('data-status', 'error');
  status.textContent = 'error: ' + message + (line ? ' (line ' + line + ')' : '');
};
</script>
<main>
  <div id="scroll"><div id="lane-head"></div><svg id="chart" xmlns="http://www.w3.org/2000/svg"></svg></div>
  <aside id="panel"><p class="hint">Click a tick (circle) or a message (arrow) to see its details; a
  fault or violation line shows its own.</p></aside>
</main>
<script type="application/json" id="trace-data">)PAGE";

constexpr const char* kPageTail = R"PAGE(</script>
<script>
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('trace-data').textContent);
  const {header, lanes, rows, ticks, marks} = data;
  const msgs = data.messages;
  const NS = 'http://www.w3.org/2000/svg';

  // Lanes run top to bottom; each row is one event with a place in step order. The lanes share
  // the width in view (within bounds that keep them apart and near enough to follow an arrow).
  const ROW = 22, TOP = 10, GUTTER = 140, LOOP = 56;
  const view = document.getElementById('scroll').clientWidth;
  const LANE = Math.max(110, Math.min(220, Math.floor((view - GUTTER - LOOP) / Math.max(1, lanes.length))));
  const laneX = i => GUTTER + LANE / 2 + i * LANE;
  const rowY = r => TOP + r * ROW + ROW / 2;
  const lastRow = rows.length;  // below the last event: where messages still in flight end
  const lanesWidth = lanes.length * LANE;
  const width = GUTTER + lanesWidth + LOOP;
  const height = rowY(lastRow) + ROW;
  const labelChars = Math.max(20, Math.floor((lanesWidth + LOOP - 12) / 6.4));
  const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  const channels = [...new Set(msgs.filter(m => m.sent_row >= 0).map(m => m.channel))].sort();
  const color = new Map(channels.map((c, i) => [c, PALETTE[i % PALETTE.length]]));

  function s(parent, tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  // Text goes in as text nodes, never as markup, whatever the tuples hold.
  function h(tag, cls, ...kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  const laneName = i => (i >= 0 ? lanes[i] : '?');
  const stepOf = r => rows[r][0];
  const time = us => (us / 1000).toFixed(3) + ' ms';
  const at = r => `step ${stepOf(r)} \u00b7 ${time(rows[r][1])}`;
  const clip = (text, n) => (text.length > n ? text.slice(0, n - 1) + '\u2026' : text);
  // Node names often differ only at the end (replica_1, replica_2): keep both ends.
  const clipMiddle = (text, n) => (text.length > n ? text.slice(0, Math.ceil(n / 2) - 1) + '\u2026' + text.slice(-Math.floor(n / 2)) : text);
  const fateClass = m => m.end.replace(' ', '-');

  // Header.
  document.title = 'bloom sim: ' + (header.deployment || 'timeline');
  document.getElementById('title').append(header.deployment || '(no deployment)');
  const counts = {delivered: 0, dropped: 0, lost: 0, 'in flight': 0};
  for (const m of msgs) counts[m.end]++;
  const summary = document.getElementById('summary');
  const item = (label, value, cls) => summary.append(h('span', null, h('span', 'label', label), h('span', cls, value)));
  item('seed', header.seed, 'mono');
  item('faults', header.faults || 'none', 'mono');
  item('ended', header.end || '(not recorded)', header.violations.length || marks.some(m => m.kind === 'error') ? 'bad' : null);
  item('steps', String(rows.length ? stepOf(rows.length - 1) : 0));
  item('nodes', String(lanes.length));
  item('ticks', String(ticks.length));
  item('messages', `${msgs.length} (${counts.delivered} delivered, ${counts.dropped} dropped, ${counts.lost} lost, ${counts['in flight']} in flight)`);
  if (header.invariant) item('invariant', header.invariant, 'mono');
  const violations = document.getElementById('violations');
  violations.append(h('span', 'label', `violations (${header.violations.length})`));
  violations.append(header.violations.length ? h('ul', null, header.violations.map(v => h('li', null, h('code', null, v)))) : 'none');
  const outputs = document.getElementById('outputs');
  for (const node of Object.keys(header.outputs))
    for (const [name, text] of Object.entries(header.outputs[node]))
      outputs.append(h('div', null, h('code', null, `${node} \u00b7 ${name}`), h('pre', null, text || '(empty)')));
  if (!Object.keys(header.outputs).length) outputs.remove();
  const legend = document.getElementById('legend');
  legend.prepend(...channels.map(c => {
    const key = h('span', 'key');
    const sw = s(key, 'svg', {width: 24, height: 12});
    s(sw, 'path', {d: 'M1,6 H17', stroke: color.get(c), 'stroke-width': 1.6});
    s(sw, 'path', {d: 'M16,2 L23,6 L16,10 z', fill: color.get(c)});
    key.append(c);
    return key;
  }));

  // Lane names, kept in view by the sticky head.
  const head = document.getElementById('lane-head');
  head.style.width = width + 'px';
  const hs = s(head, 'svg', {width, height: 30});
  s(hs, 'text', {x: 46, y: 20, 'text-anchor': 'end', class: 'colhead'}, 'step');
  s(hs, 'text', {x: GUTTER - 12, y: 20, 'text-anchor': 'end', class: 'colhead'}, 'time');
  lanes.forEach((n, i) => s(s(hs, 'text', {x: laneX(i), y: 20, 'text-anchor': 'middle', class: 'lane-name'}, clipMiddle(n, Math.floor((LANE - 16) / 8))), 'title', {}, n));

  const chart = document.getElementById('chart');
  chart.setAttribute('width', width);
  chart.setAttribute('height', height);
  const defs = s(chart, 'defs', {});
  const arrowHead = new Map();
  channels.forEach((c, i) => {
    const marker = s(defs, 'marker', {id: 'head' + i, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8,
                                      markerUnits: 'userSpaceOnUse', orient: 'auto'});
    s(marker, 'path', {d: 'M0,0 L10,5 L0,10 z', fill: color.get(c)});
    arrowHead.set(c, `url(#head${i})`);
  });
  const layer = name => s(chart, 'g', {class: name});
  const bands = layer('bands'), gutter = layer('gutter'), laneLayer = layer('lanes');
  const markLayer = layer('marks'), msgLayer = layer('messages'), tickLayer = layer('ticks');

  // Rows: zebra stripes and the step and virtual time of each.
  rows.forEach(([step, us], r) => {
    if (r % 2) s(bands, 'rect', {x: 0, y: rowY(r) - ROW / 2, width, height: ROW, class: 'stripe'});
    s(gutter, 'text', {x: 46, y: rowY(r) + 4, 'text-anchor': 'end'}, String(step));
    s(gutter, 'text', {x: GUTTER - 12, y: rowY(r) + 4, 'text-anchor': 'end'}, time(us));
  });

  // Partitions shade the rows they last (a new partition replaces the one before).
  const band = (from, to) => s(bands, 'rect', {x: GUTTER, y: rowY(from), width: lanesWidth, height: rowY(to) - rowY(from), class: 'partition-band'});
  let partitioned = null;
  for (const m of marks) {
    if (m.kind !== 'partition' && m.kind !== 'heal') continue;
    if (partitioned !== null) band(partitioned, m.row);
    partitioned = m.kind === 'partition' ? m.row : null;
  }
  if (partitioned !== null) band(partitioned, lastRow);

  // Lanes, dashed red where the node is down (from a crash to its restart).
  const laneEls = lanes.map((n, i) => {
    const g = s(laneLayer, 'g', {class: 'lane', 'data-lane': n});
    s(g, 'line', {x1: laneX(i), x2: laneX(i), y1: TOP, y2: rowY(lastRow), class: 'lane-line'});
    return g;
  });
  const down = (lane, from, to) => s(laneEls[lane], 'line', {x1: laneX(lane), x2: laneX(lane), y1: rowY(from), y2: rowY(to), class: 'down'});
  const downSince = new Map();
  for (const m of marks) {
    if (m.lane < 0) continue;
    if (m.kind === 'crash') downSince.set(m.lane, m.row);
    if (m.kind === 'restart' && downSince.has(m.lane)) {
      down(m.lane, downSince.get(m.lane), m.row);
      downSince.delete(m.lane);
    }
  }
  for (const [lane, from] of downSince) down(lane, from, lastRow);

  function markLabel(m) {
    const on = m.lane >= 0 ? ' on ' + lanes[m.lane] : '';
    switch (m.kind) {
      case 'partition': return 'partition ' + m.groups.map(g => '{' + g.join(', ') + '}').join(' | ');
      case 'heal': return 'partition healed';
      case 'violation': return `\u26a0 violation${on}${m.detail ? ' (' + m.detail + ')' : ''}: ${m.tuples.join(', ')}`;
      default: return m.kind + on + (m.detail ? ': ' + m.detail : '');
    }
  }
  // Crashes and restarts are pills on their lane; the others are lines across all lanes, labelled
  // just above the line (through the label, a dashed line would show between the words).
  const markEls = marks.map((m, i) => {
    const g = s(markLayer, 'g', {class: 'mark ' + m.kind, 'data-kind': m.kind});
    const y = rowY(m.row);
    if (m.lane >= 0 && (m.kind === 'crash' || m.kind === 'restart')) {
      s(g, 'rect', {x: laneX(m.lane) - 27, y: y - 8, width: 54, height: 16, rx: 8});
      s(g, 'text', {x: laneX(m.lane), y: y + 4, 'text-anchor': 'middle'}, m.kind);
    } else {
      s(g, 'line', {x1: GUTTER, x2: GUTTER + lanesWidth, y1: y, y2: y});
      if (m.lane >= 0) s(g, 'path', {d: `M${laneX(m.lane)},${y - 7} l7,7 l-7,7 l-7,-7 z`, class: 'on-lane'});
      s(g, 'text', {x: GUTTER + 6, y: y - 4, class: 'halo'}, clip(markLabel(m), labelChars));
    }
    s(g, 'title', {}, `${markLabel(m)} (${at(m.row)})`);
    g.addEventListener('click', () => select({mark: i}));
    return g;
  });

  // A straight segment cut short at both ends, so that it meets a tick's circle at its edge.
  function segment(x1, y1, x2, y2, cut1, cut2) {
    const len = Math.hypot(x2 - x1, y2 - y1) || 1, ux = (x2 - x1) / len, uy = (y2 - y1) / len;
    return `M${x1 + ux * cut1},${y1 + uy * cut1} L${x2 - ux * cut2},${y2 - uy * cut2}`;
  }
  // Messages: an arrow from the sending tick to the receiving one, or to the bottom when still in
  // flight; one the network dropped or lost ends in an X at the row where that happened. A message
  // to its own node loops out to the right of the lane.
  const msgEls = msgs.map((m, i) => {
    if (m.sent_row < 0) return null;
    const xs = laneX(m.from), ys = rowY(m.sent_row), self = m.from === m.to;
    const g = s(msgLayer, 'g', {class: 'msg ' + fateClass(m) + (m.dup_of >= 0 ? ' dup' : ''), 'data-msg': m.id});
    const gone = m.end === 'dropped' || m.end === 'lost';
    const ye = rowY(m.end_row >= 0 ? m.end_row : lastRow);
    let d, xe;
    if (gone) {
      xe = self ? xs + LOOP * 0.6 : xs + (laneX(m.to) - xs) * 0.6;
      d = self ? `M${xs + 6},${ys} Q${xe},${ys} ${xe},${ye}` : segment(xs, ys, xe, ye, 6, 0);
    } else {
      xe = laneX(m.to);
      d = self ? `M${xs + 6},${ys} C${xs + LOOP},${ys} ${xs + LOOP},${ye} ${xe + 7},${ye}` : segment(xs, ys, xe, ye, 6, 7);
    }
    s(g, 'path', {d, class: 'hit'});
    const arrow = {d, class: 'arrow', stroke: color.get(m.channel)};
    if (!gone) arrow['marker-end'] = arrowHead.get(m.channel);
    s(g, 'path', arrow);
    if (m.dup_of >= 0) s(g, 'path', {d, class: 'dup-core'});
    if (gone) s(g, 'path', {d: `M${xe - 5},${ye - 5} l10,10 m0,-10 l-10,10`, class: 'x'});
    if (m.sent_tick < 0) s(g, 'circle', {cx: xs, cy: ys, r: 3, fill: color.get(m.channel)});
    s(g, 'title', {}, `#${m.id} ${laneName(m.from)} \u2192 ${laneName(m.to)} on ${m.channel}: ${m.tuples.length} tuple(s), ${m.end}`);
    g.addEventListener('click', () => select({msg: i}));
    return g;
  });

  const tickEls = ticks.map((t, i) => {
    const x = laneX(t.node), y = rowY(t.row);
    const g = s(tickLayer, 'g', {class: 'tick' + (t.stdout.length ? ' printed' : ''), 'data-tick': i});
    s(g, 'circle', {cx: x, cy: y, r: 5});
    s(g, 'text', {x: x - 9, y: y + 4, 'text-anchor': 'end', class: 'halo'}, String(t.tick));
    s(g, 'title', {}, `${laneName(t.node)} tick ${t.tick} (${at(t.row)}): ${t.received.length} received, ${t.sent.length} sent`);
    g.addEventListener('click', () => select({tick: i}));
    return g;
  });

  // The side panel.
  const panel = document.getElementById('panel');
  function link(text, what) {
    const b = h('button', 'link', text);
    b.type = 'button';
    b.addEventListener('click', () => select(what, true));
    return b;
  }
  const tickRef = i => link(`${laneName(ticks[i].node)} tick ${ticks[i].tick}`, {tick: i});
  function kv(pairs) {
    const dl = h('dl', 'kv');
    for (const [k, v] of pairs) if (v !== null) dl.append(h('dt', null, k), h('dd', null, v));
    return dl;
  }
  const tupleList = tuples => h('ul', 'tuples', tuples.map(t => h('li', null, h('code', null, t))));
  const orNothing = (list, make) => (list.length ? make(list) : h('p', 'none', 'nothing'));
  function fate(m) {
    switch (m.end) {
      case 'delivered': return ['delivered at ', tickRef(m.end_tick), ` \u00b7 ${at(m.end_row)}`];
      case 'dropped': return `dropped by the network at ${at(m.end_row)}`;
      case 'lost': return `lost at ${at(m.end_row)}` + (m.detail ? ': ' + m.detail : '');
      default: return 'still in flight when the run ended';
    }
  }
  function messageItem(j, received) {
    const m = msgs[j];
    return h('li', null,
      h('div', null, link('#' + m.id, {msg: j}), received ? ` from ${laneName(m.from)} on ` : ` to ${laneName(m.to)} on `,
        h('code', null, m.channel), received ? null : h('span', 'fate ' + fateClass(m), m.end),
        m.dup_of >= 0 ? h('span', 'fate', 'duplicate') : null),
      tupleList(m.tuples));
  }
  function sentAt(m) {
    if (m.sent_tick >= 0) return [tickRef(m.sent_tick), ` \u00b7 ${at(m.sent_row)}`];
    return m.sent_row >= 0 ? `before ${laneName(m.from)}'s first tick \u00b7 ${at(m.sent_row)}` : 'not in the trace';
  }
  function tickPanel(t) {
    return [
      h('h2', null, `${laneName(t.node)} \u00b7 tick ${t.tick}`),
      kv([['node', laneName(t.node)], ['tick', String(t.tick)], ['step', String(stepOf(t.row))], ['time', time(rows[t.row][1])],
          ['timers fired', t.timers.length ? t.timers.join(', ') : null]]),
      h('h3', null, `received (${t.received.length})`),
      orNothing(t.received, l => h('ul', 'msgs', l.map(j => messageItem(j, true)))),
      h('h3', null, `sent (${t.sent.length})`),
      orNothing(t.sent, l => h('ul', 'msgs', l.map(j => messageItem(j, false)))),
      h('h3', null, `stdout (${t.stdout.length})`),
      orNothing(t.stdout, l => h('pre', 'stdout', l.join('\n'))),
      h('h3', null, `new tuples, by rule (${t.derived.length})`),
      orNothing(t.derived, l => h('ul', 'msgs', l.map(d => h('li', null, h('div', null, d.how, ' by ', h('code', null, d.rule)), tupleList(d.tuples))))),
    ];
  }
  function messagePanel(m) {
    return [
      h('h2', null, `message #${m.id}`),
      kv([['from', laneName(m.from)], ['to', laneName(m.to)], ['channel', h('code', null, m.channel)], ['sent', sentAt(m)],
          ['fate', fate(m)], ['duplicate of', m.dup_of >= 0 ? link('#' + msgs[m.dup_of].id, {msg: m.dup_of}) : null]]),
      h('h3', null, `tuples (${m.tuples.length})`),
      orNothing(m.tuples, tupleList),
    ];
  }
  function markPanel(m) {
    return [
      h('h2', null, m.kind),
      kv([['step', String(stepOf(m.row))], ['time', time(rows[m.row][1])], ['node', m.lane >= 0 ? lanes[m.lane] : null],
          ['detail', m.detail || null]]),
      m.groups.length ? [h('h3', null, 'groups'), h('ul', 'groups', m.groups.map(g => h('li', null, '{' + g.join(', ') + '}')))] : null,
      m.tuples.length ? [h('h3', null, `rows (${m.tuples.length})`), tupleList(m.tuples)] : null,
    ];
  }

  // Selecting lights up the element and what it connects: a tick's messages, a message's ticks.
  let lit = [];
  function select(what, scroll) {
    for (const e of lit) e.classList.remove('sel');
    lit = [];
    const light = e => { if (e) { e.classList.add('sel'); lit.push(e); } };
    let focus;
    if (what.tick !== undefined) {
      const t = ticks[what.tick];
      focus = tickEls[what.tick];
      t.received.concat(t.sent).forEach(j => light(msgEls[j]));
      panel.replaceChildren(...tickPanel(t));
    } else if (what.msg !== undefined) {
      const m = msgs[what.msg];
      focus = msgEls[what.msg];
      if (m.sent_tick >= 0) light(tickEls[m.sent_tick]);
      if (m.end_tick >= 0) light(tickEls[m.end_tick]);
      panel.replaceChildren(...messagePanel(m));
    } else {
      focus = markEls[what.mark];
      panel.replaceChildren(...markPanel(marks[what.mark]).flat().filter(e => e !== null));
    }
    light(focus);
    panel.scrollTop = 0;
    if (scroll && focus) focus.scrollIntoView({block: 'center', inline: 'nearest'});
  }

  const status = document.getElementById('render-status');
  if (status.getAttribute('data-status') === 'pending') {
    status.setAttribute('data-status', 'ok');
    status.textContent = 'ok';
  }
})();
</script>
</body>
</html>
)PAGE";

}  // namespace

std::string timeline_html(const Trace& trace, const TickDerivations* derived) {
  // Bytes that are not UTF-8 (a tuple, a line of stdout) show as U+FFFD instead of failing.
  const std::string data = Timeline(trace, derived).data().dump(-1, ' ', false, json::error_handler_t::replace);
  // In JSON text '<' occurs only inside strings, where \u003c reads the same. Without any '<',
  // nothing in the data can close the script element early: neither "</script>" nor "<!--",
  // which would change how the HTML parser looks for the element's end.
  std::string page = kPageHead;
  page.reserve(page.size() + data.size() + data.size() / 16 + std::char_traits<char>::length(kPageTail));
  for (char c : data) {
    if (c == '<') page += "\\u003c";
    else page += c;
  }
  page += kPageTail;
  return page;
}

}  // namespace bloom::rt::sim
