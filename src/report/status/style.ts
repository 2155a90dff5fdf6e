// The status page's stylesheet, inlined into the page (no external file may load).
export const STATUS_CSS = `
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;--bad:#cf222e;--bad-bg:#ffebe9;--routed:#8250df;--routed-bg:#fbefff;--muted:#57606a;--line:#d0d7de;--none:#eaeef2}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#f6f8fa}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 16px}
header{padding-top:16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.verdict{display:inline-block;margin:4px 0;padding:2px 10px;border-radius:12px;font-weight:600}
.verdict.fail{background:var(--bad-bg);color:var(--bad)}
.verdict.pass{background:var(--ok-bg);color:var(--ok)}
.run,.empty,footer,small{color:var(--muted)}
.empty.ok{color:var(--ok)}
.notes{background:var(--warn-bg);border:1px solid #d4a72c;border-radius:6px;padding:6px 6px 6px 24px}
nav a{margin-right:12px}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.tile{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:180px}
.tile span,.tile small{display:block;font-size:12px}
.tile b{font-size:20px}
table{border-collapse:collapse;background:#fff;margin:4px 0 8px}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f0f3f6}
th small{display:block;font-weight:normal}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.up{color:var(--ok)}td.partial{color:var(--warn)}td.down{color:var(--bad);font-weight:600}
.matrix td.c{text-align:center;min-width:84px;position:relative}
.c.consistent{background:var(--ok-bg);color:var(--ok)}
.c.stale{background:var(--warn-bg);color:var(--warn)}
.c.failing{background:var(--bad-bg);color:var(--bad)}
.c.routed{background:var(--routed-bg);color:var(--routed)}
.c.unknown{background:var(--none);color:var(--muted)}
.legend .c{display:inline-block;padding:0 6px;border-radius:4px;margin-right:4px}
th.col-bad{color:var(--bad)}
tr.summary th,tr.summary td{font-style:italic;color:var(--muted)}
tr.healthy th{color:var(--ok)}
summary{cursor:pointer;font-weight:600}
details .pop{position:absolute;z-index:2;left:0;min-width:28em;max-width:44em;text-align:left;background:#fff;color:#1f2328;border:1px solid var(--line);border-radius:6px;box-shadow:0 4px 12px rgba(0,0,0,.15);padding:4px 10px;font-weight:normal}
.pop p{margin:6px 0}
.step{color:#0b4f9c}
.sev{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:600}
.sev-critical{background:var(--bad-bg);color:var(--bad)}
.sev-warning{background:var(--warn-bg);color:var(--warn)}
.sev-info{background:var(--none);color:var(--muted)}
.problems .msg{color:var(--muted);max-width:60em}
.since{white-space:nowrap}
.since small{display:block}
.trend svg{display:block}
.chart svg{vertical-align:middle}
svg .h-up{fill:#2da44e}svg .h-partial{fill:#d4a72c}svg .h-down{fill:var(--bad)}svg .h-none{fill:var(--none)}
svg .rtt{fill:none;stroke:#0969da;stroke-width:1.2}
svg.line{background:#eef2f5}
footer{padding:16px;font-size:12px}
`;
