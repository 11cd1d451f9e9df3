/**
 * The web page at `GET /`: one self-contained HTML document (styles and script inline, no
 * external requests), so the package ships it as a string in its bundle.
 */
export const PAGE_HTML = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SemClip</title>
<style>
  :root {
    --bg: #0f1117; --panel: #171a23; --panel2: #1e2230; --line: #2a3042; --text: #e8eaf2; --muted: #9aa1b6;
    --accent: #00d2e6; --accent2: #7c5cff; --good: #3ddc97; --bad: #ff6b6b; --radius: 14px;
    font-family: Inter, "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: radial-gradient(1200px 600px at 10% -10%, #1b2040 0%, var(--bg) 55%); color: var(--text); min-height: 100vh; }
  header { display: flex; align-items: center; gap: 14px; padding: 18px 28px; border-bottom: 1px solid var(--line); background: rgba(15,17,23,.7); backdrop-filter: blur(6px); }
  .logo { width: 34px; height: 34px; border-radius: 9px; background: conic-gradient(from 200deg, var(--accent), var(--accent2), var(--accent)); display: grid; place-items: center; font-weight: 800; color: #0b0d12; }
  header h1 { font-size: 19px; margin: 0; letter-spacing: .2px; }
  header p { margin: 0; color: var(--muted); font-size: 13px; }
  header .caps { margin-left: auto; display: flex; gap: 8px; flex-wrap: wrap; }
  .chip { font-size: 12px; padding: 4px 10px; border-radius: 999px; background: var(--panel2); border: 1px solid var(--line); color: var(--muted); white-space: nowrap; }
  .chip b { color: var(--text); font-weight: 600; }
  main { display: grid; grid-template-columns: minmax(300px, 380px) 1fr; gap: 22px; padding: 22px 28px; max-width: 1500px; margin: 0 auto; }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 18px; box-shadow: 0 10px 30px rgba(0,0,0,.25); }
  .card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: 1.2px; color: var(--muted); margin: 0 0 12px; font-weight: 600; }
  #drop { border: 2px dashed #39405a; border-radius: 12px; min-height: 190px; display: grid; place-items: center; text-align: center; cursor: pointer; transition: border-color .15s, background .15s; position: relative; overflow: hidden; background: #141722; }
  #drop:hover, #drop.over { border-color: var(--accent); background: #152029; }
  #drop .hint { color: var(--muted); font-size: 14px; padding: 18px; line-height: 1.5; }
  #drop .hint strong { color: var(--text); display: block; font-size: 15px; margin-bottom: 4px; }
  #drop img { max-width: 100%; max-height: 240px; display: block; border-radius: 8px; }
  #file { display: none; }
  label { display: block; font-size: 12px; color: var(--muted); margin: 14px 0 6px; }
  textarea, input, select { width: 100%; background: #11141c; color: var(--text); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px; font: inherit; font-size: 14px; outline: none; }
  textarea:focus, input:focus, select:focus { border-color: var(--accent); }
  textarea { resize: vertical; min-height: 70px; }
  .row { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 10px; }
  button { margin-top: 16px; width: 100%; border: 0; border-radius: 11px; padding: 12px 14px; font: inherit; font-weight: 700; font-size: 15px; color: #061015; background: linear-gradient(90deg, var(--accent), #5fe3ff); cursor: pointer; box-shadow: 0 6px 18px rgba(0,210,230,.25); }
  button:disabled { opacity: .5; cursor: not-allowed; box-shadow: none; }
  .meta { color: var(--muted); font-size: 12px; margin-top: 8px; min-height: 16px; }
  #error { display: none; margin-top: 14px; padding: 10px 12px; border-radius: 10px; background: rgba(255,107,107,.12); border: 1px solid rgba(255,107,107,.4); color: #ffc9c9; font-size: 13px; line-height: 1.45; }
  #keyBox { display: none; }
  .results { display: grid; gap: 22px; align-content: start; }
  .empty { color: var(--muted); text-align: center; padding: 70px 20px; line-height: 1.6; }
  .empty .big { font-size: 44px; opacity: .5; }
  #overlay { width: 100%; border-radius: 10px; display: block; background: #0b0d12; }
  .two { display: grid; grid-template-columns: 1.1fr 1fr; gap: 22px; }
  @media (max-width: 1200px) { .two { grid-template-columns: 1fr; } }
  #crops { display: flex; flex-wrap: wrap; gap: 12px; }
  #crops figure { margin: 0; background: #11141c; border: 1px solid var(--line); border-radius: 10px; padding: 8px; flex: 1 1 220px; }
  #crops img { width: 100%; border-radius: 6px; display: block; }
  #crops figcaption { color: var(--muted); font-size: 12px; margin-top: 6px; }
  #answer { font-size: 20px; line-height: 1.45; padding: 14px 16px; border-radius: 12px; background: linear-gradient(135deg, rgba(124,92,255,.18), rgba(0,210,230,.12)); border: 1px solid rgba(124,92,255,.35); }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 6px 4px; border-bottom: 1px solid var(--line); }
  th { color: var(--muted); font-weight: 600; }
  td.num { font-variant-numeric: tabular-nums; text-align: right; width: 70px; }
  td.barcell { width: 48%; }
  .bar { height: 8px; border-radius: 4px; background: linear-gradient(90deg, #30127a, #21918c, #90d743, #fdae32, #e62828); }
  tr.sel td { color: var(--accent); font-weight: 700; }
  .reason { color: var(--muted); font-size: 13px; line-height: 1.5; margin-top: 10px; }
  .timings { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 12px; }
  .spinner { width: 18px; height: 18px; border: 3px solid rgba(255,255,255,.2); border-top-color: var(--accent); border-radius: 50%; animation: spin .8s linear infinite; display: inline-block; vertical-align: middle; margin-right: 8px; }
  @keyframes spin { to { transform: rotate(360deg); } }
</style>
</head>
<body>
<header>
  <div class="logo">S</div>
  <div><h1>SemClip</h1><p>Show a vision-language model the overview plus the sub-images that matter for your question.</p></div>
  <div class="caps" id="caps"></div>
</header>
<main>
  <section class="card" aria-label="Input">
    <h2>Image and question</h2>
    <div id="drop" tabindex="0" role="button" aria-label="Drop or pick an image">
      <div class="hint" id="dropHint"><strong>Drop an image here</strong>or click to choose a JPEG, PNG or WebP</div>
    </div>
    <input type="file" id="file" accept="image/*">
    <div class="meta" id="fileMeta"></div>
    <label for="question">Question</label>
    <textarea id="question" placeholder="What does the small sign say?"></textarea>
    <div class="row">
      <div><label for="grid">Grid</label><select id="grid"><option>2x2</option><option>3x3</option><option>4x4</option><option>auto</option></select></div>
      <div><label for="k">Regions (k)</label><input id="k" type="number" min="0" max="16" value="1"></div>
      <div><label for="scorer">Scorer</label><select id="scorer"></select></div>
    </div>
    <div id="keyBox"><label for="key">API key</label><input id="key" type="password" placeholder="SEMCLIP_API_KEY" autocomplete="off"></div>
    <button id="submit" disabled>Select regions</button>
    <div id="error" role="alert"></div>
  </section>
  <section class="results" id="results">
    <div class="card empty" id="empty"><div class="big">&#9707;</div>Pick an image and ask a question.<br>The overlay shows every tile's relevance score; the selected tile is outlined.</div>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  let file = null;
  let info = null;
  const key = () => $('key').value.trim() || sessionStorage.getItem('semclipKey') || '';
  const headers = () => (key() ? { authorization: 'Bearer ' + key() } : {});
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const ms = (v) => (v >= 1000 ? (v / 1000).toFixed(1) + ' s' : Math.round(v) + ' ms');
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));

  function showError(text) {
    $('error').style.display = text ? 'block' : 'none';
    $('error').textContent = text || '';
  }
  function ready() {
    $('submit').disabled = !(file && $('question').value.trim());
  }
  async function loadInfo() {
    const res = await fetch('/v1/info', { headers: headers() });
    if (res.status === 401) {
      $('keyBox').style.display = 'block';
      showError('This server needs an API key.');
      return;
    }
    info = await res.json();
    $('scorer').innerHTML = info.scorers.map((s) => '<option' + (s === info.scorer ? ' selected' : '') + '>' + esc(s) + '</option>').join('');
    $('grid').value = [...$('grid').options].some((o) => o.value === info.grid) ? info.grid : $('grid').value;
    $('k').value = info.k;
    $('submit').textContent = info.answer ? 'Ask' : 'Select regions';
    $('caps').innerHTML = [
      '<span class="chip">v<b>' + esc(info.version) + '</b></span>',
      '<span class="chip">scorers <b>' + esc(info.scorers.join(', ')) + '</b></span>',
      info.answer ? '<span class="chip">VLM <b>' + esc(info.answer.model) + '</b></span>' : '<span class="chip">selection only</span>',
    ].join('');
    showError('');
  }
  function pick(f) {
    if (!f) return;
    file = f;
    const url = URL.createObjectURL(f);
    $('drop').innerHTML = '<img alt="chosen image" src="' + url + '">';
    const img = $('drop').querySelector('img');
    img.onload = () => { $('fileMeta').textContent = f.name + ' \\u00b7 ' + img.naturalWidth + '\\u00d7' + img.naturalHeight + ' \\u00b7 ' + Math.round(f.size / 1024) + ' KiB'; };
    // A file the browser cannot draw shows a note, not a broken-image icon; the server still says what is wrong with it.
    img.onerror = () => {
      $('drop').innerHTML = '<div class="hint" id="previewNote">No preview: the browser cannot draw ' + esc(f.name) + '. Ask anyway and the server will say whether it can read it.</div>';
      $('fileMeta').textContent = f.name + ' \\u00b7 ' + Math.round(f.size / 1024) + ' KiB';
    };
    ready();
  }
  $('drop').addEventListener('click', () => $('file').click());
  $('drop').addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') $('file').click(); });
  $('file').addEventListener('change', () => pick($('file').files[0]));
  ['dragenter', 'dragover'].forEach((t) => $('drop').addEventListener(t, (e) => { e.preventDefault(); $('drop').classList.add('over'); }));
  ['dragleave', 'drop'].forEach((t) => $('drop').addEventListener(t, (e) => { e.preventDefault(); $('drop').classList.remove('over'); }));
  $('drop').addEventListener('drop', (e) => pick(e.dataTransfer.files[0]));
  $('question').addEventListener('input', ready);
  $('question').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) $('submit').click(); });
  $('key').addEventListener('change', () => { sessionStorage.setItem('semclipKey', $('key').value.trim()); loadInfo(); });

  function render(r) {
    const selected = new Set((r.selection ? r.selection.regions : []).flatMap((x) => x.tiles));
    const ranked = r.grid.tiles.map((t) => ({ ...t, score: (r.scores || [])[t.index] })).filter((t) => t.score !== undefined).sort((a, b) => b.score - a.score);
    const lo = Math.min(...ranked.map((t) => t.score));
    const hi = Math.max(...ranked.map((t) => t.score));
    const rows = ranked.map((t) => '<tr class="' + (selected.has(t.index) ? 'sel' : '') + '"><td>#' + t.index + (selected.has(t.index) ? ' \\u2713' : '') + '</td><td>r' + t.row + 'c' + t.col + '</td><td class="barcell"><div class="bar" style="width:' + (hi > lo ? 8 + 92 * (t.score - lo) / (hi - lo) : 50) + '%"></div></td><td class="num">' + fmt(t.score) + '</td></tr>').join('');
    const crops = (r.crops || []).map((c) => '<figure><img alt="selected region" src="data:' + c.mime + ';base64,' + c.data + '"><figcaption>tiles ' + c.tiles.join('+') + ' \\u00b7 ' + c.position + ' \\u00b7 ' + c.box.width + '\\u00d7' + c.box.height + ' px \\u00b7 score ' + fmt(c.score) + '</figcaption></figure>').join('');
    const t = r.timings || {};
    const chips = ['decode', 'tile', 'score', 'select', 'encode', 'overlay', 'upstream', 'total'].filter((k) => t[k] !== undefined).map((k) => '<span class="chip">' + k + ' <b>' + ms(t[k]) + '</b></span>').join('');
    const answer = r.kind === 'answer' ? esc(r.answer) : r.kind === 'choice' ? esc(r.choice.letter + '. ' + r.choice.option) : null;
    $('results').innerHTML =
      (answer !== null ? '<div class="card"><h2>Answer</h2><div id="answer">' + answer + '</div><div class="reason">' + esc(r.model) + ' saw ' + r.images.length + ' image' + (r.images.length === 1 ? '' : 's') + ' (' + r.visual_tokens + ' visual tokens; all tiles would be ' + r.tokens.all_tiles + ').</div></div>' : '') +
      '<div class="two"><div class="card"><h2>Relevance overlay</h2><img id="overlay" alt="overlay with per-tile scores" src="data:' + r.overlay.mime + ';base64,' + r.overlay.data + '">' +
      '<div class="reason">' + esc(r.selection ? r.selection.reason : 'No selection in this mode.') + '</div><div class="timings">' + chips + '</div></div>' +
      '<div class="card"><h2>Chosen crop' + ((r.crops || []).length === 1 ? '' : 's') + '</h2><div id="crops">' + (crops || '<div class="reason">The overview alone: nothing was selected.</div>') + '</div>' +
      '<h2 style="margin-top:18px">Tile scores \\u00b7 ' + esc(r.scorer ? r.scorer.id : '') + '</h2><table id="scores"><thead><tr><th>tile</th><th>where</th><th></th><th class="num">score</th></tr></thead><tbody>' + rows + '</tbody></table></div></div>';
  }

  $('submit').addEventListener('click', async () => {
    if (!file) return;
    showError('');
    const button = $('submit');
    const label = button.textContent;
    button.disabled = true;
    button.innerHTML = '<span class="spinner"></span>' + (info && info.answer ? 'Asking\\u2026' : 'Selecting\\u2026');
    const form = new FormData();
    form.append('image', file);
    form.append('question', $('question').value.trim());
    form.append('grid', $('grid').value);
    form.append('k', $('k').value);
    if ($('scorer').value) form.append('scorer', $('scorer').value);
    form.append('return_overlay', 'true');
    form.append('return_crops', 'true');
    try {
      const res = await fetch(info && info.answer ? '/v1/answer' : '/v1/select', { method: 'POST', body: form, headers: headers() });
      const body = await res.json().catch(() => null);
      if (res.status === 401) $('keyBox').style.display = 'block';
      if (!res.ok) throw new Error(body && body.error ? body.error.message + ' (' + body.error.code + ')' : 'HTTP ' + res.status);
      render(body);
    } catch (err) {
      // The previous answer belongs to another request: leave only the error on the page.
      $('results').innerHTML = '';
      showError(err.message);
    } finally {
      button.textContent = label;
      ready();
    }
  });
  loadInfo().catch((err) => showError('Cannot reach the server: ' + err.message));
})();
</script>
</body>
</html>
`;
