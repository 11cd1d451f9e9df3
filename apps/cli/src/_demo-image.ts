/**
 * The demo picture: a 3000x2000 waiting room drawn from SVG, with a small sign reading
 * "WAIT TIME 25 MIN" high in the top-right corner. Downscaled to 336x224 the sign's letters
 * are 3-4 pixels tall and unreadable; in the top-right tile of a 2x2 grid they are readable.
 * The SVG is fixed, so the same machine always renders the same pixels (text rendering goes
 * through the system's fonts: DejaVu Sans where installed).
 */
import sharp from 'sharp';
import { DEMO_SIGN_BOX, DEMO_SIZE } from './_demo.js';

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

function chairs(): string {
  let out = '';
  for (let i = 0; i < 5; i++) {
    const x = 1560 + i * 250;
    out += `
      <rect x="${x + 8}" y="1150" width="190" height="170" rx="18" fill="#2f5d8a"/>
      <rect x="${x}" y="1300" width="206" height="52" rx="12" fill="#3a6fa3"/>
      <rect x="${x + 18}" y="1350" width="14" height="130" fill="#4a4a4a"/>
      <rect x="${x + 174}" y="1350" width="14" height="130" fill="#4a4a4a"/>
      <rect x="${x + 10}" y="1470" width="186" height="10" fill="#3c3c3c"/>`;
  }
  // A coat and a bag left on two chairs.
  out += `
    <path d="M1835 1160 q40 -30 80 0 l20 170 h-120 z" fill="#7a2e2e"/>
    <rect x="2350" y="1240" width="120" height="80" rx="14" fill="#c9a227"/>
    <path d="M2375 1240 q35 -45 70 0" stroke="#8a6d12" stroke-width="9" fill="none"/>`;
  return out;
}

function floor(): string {
  let lines = '';
  for (let x = -600; x <= 3600; x += 240) lines += `<line x1="${1500 + (x - 1500) * 0.55}" y1="1450" x2="${x}" y2="2000" stroke="#8d8a84" stroke-width="3"/>`;
  for (const y of [1500, 1570, 1660, 1770, 1900]) lines += `<line x1="0" y1="${y}" x2="3000" y2="${y}" stroke="#8d8a84" stroke-width="3"/>`;
  return lines;
}

function noticeBoard(): string {
  // Paper notes with grey "text" bars: texture without legible words.
  const notes = [
    [465, 1180, 150, 190, '#fffbe6', -3],
    [635, 1170, 130, 150, '#e8f4ff', 4],
    [470, 1390, 170, 110, '#ffeef0', 2],
    [660, 1345, 120, 160, '#f2ffe8', -5],
  ] as const;
  let out = '<rect x="440" y="1150" width="370" height="380" rx="8" fill="#b48a5a" stroke="#6b4f2e" stroke-width="12"/>';
  for (const [x, y, w, h, fill, rot] of notes) {
    out += `<g transform="rotate(${rot} ${x + w / 2} ${y + h / 2})"><rect x="${x}" y="${y}" width="${w}" height="${h}" fill="${fill}"/>`;
    for (let ly = y + 22; ly < y + h - 14; ly += 20) out += `<rect x="${x + 14}" y="${ly}" width="${w - 28 - ((ly * 7) % 40)}" height="7" fill="#9a9a9a"/>`;
    out += `<circle cx="${x + w / 2}" cy="${y + 10}" r="7" fill="#d33"/></g>`;
  }
  return out;
}

/** The SVG source of the demo image. */
export function demoSvg(): string {
  const { width: W, height: H } = DEMO_SIZE;
  const s = DEMO_SIGN_BOX;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">
  <defs>
    <linearGradient id="wall" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#efe6d2"/><stop offset="1" stop-color="#dccfb4"/></linearGradient>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#6fa8dc"/><stop offset="1" stop-color="#cfe6f7"/></linearGradient>
    <linearGradient id="floor" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#b9b4aa"/><stop offset="1" stop-color="#a29d93"/></linearGradient>
    <radialGradient id="lamp" cx="0.5" cy="0" r="0.9"><stop offset="0" stop-color="#fffbe8" stop-opacity="0.85"/><stop offset="1" stop-color="#fffbe8" stop-opacity="0"/></radialGradient>
  </defs>
  <rect width="${W}" height="1450" fill="url(#wall)"/>
  <rect y="1080" width="${W}" height="370" fill="#c9b994"/>
  <rect y="1068" width="${W}" height="16" fill="#9c8a63"/>
  <rect y="1450" width="${W}" height="550" fill="url(#floor)"/>
  ${floor()}
  <rect y="1440" width="${W}" height="18" fill="#6f6656"/>

  <!-- ceiling lights -->
  <rect x="500" y="0" width="500" height="26" fill="#f7f3e8"/><ellipse cx="750" cy="20" rx="520" ry="260" fill="url(#lamp)"/>
  <rect x="1900" y="0" width="500" height="26" fill="#f7f3e8"/><ellipse cx="2150" cy="20" rx="520" ry="260" fill="url(#lamp)"/>

  <!-- window with a tree outside -->
  <rect x="130" y="180" width="640" height="740" fill="#f4f1ea"/>
  <rect x="160" y="210" width="580" height="680" fill="url(#sky)"/>
  <ellipse cx="330" cy="330" rx="110" ry="38" fill="#ffffff" opacity="0.85"/>
  <ellipse cx="560" cy="420" rx="140" ry="44" fill="#ffffff" opacity="0.7"/>
  <rect x="520" y="640" width="34" height="250" fill="#6b4a2b"/>
  <circle cx="537" cy="610" r="120" fill="#4d8a3c"/><circle cx="470" cy="660" r="80" fill="#3f7a32"/><circle cx="610" cy="670" r="85" fill="#5a9845"/>
  <rect x="160" y="820" width="580" height="70" fill="#7fa35e"/>
  <rect x="440" y="210" width="20" height="680" fill="#f4f1ea"/><rect x="160" y="540" width="580" height="20" fill="#f4f1ea"/>
  <rect x="110" y="915" width="680" height="28" fill="#e6e0d2"/>

  <!-- door with exit sign -->
  <rect x="1000" y="440" width="420" height="1010" fill="#8a6a48"/>
  <rect x="1030" y="470" width="360" height="980" fill="#a47f58"/>
  <rect x="1070" y="520" width="280" height="380" fill="#96734f"/><rect x="1070" y="960" width="280" height="420" fill="#96734f"/>
  <circle cx="1355" cy="960" r="20" fill="#d9c27a"/>
  <rect x="1110" y="330" width="200" height="80" rx="6" fill="#1f7a3a"/>
  <text x="1210" y="372" font-family="${FONT}" font-size="46" font-weight="700" fill="#e9ffe9" text-anchor="middle" dominant-baseline="central">EXIT</text>

  <!-- clock -->
  <circle cx="1760" cy="360" r="98" fill="#fdfdfb" stroke="#333" stroke-width="14"/>
  ${Array.from({ length: 12 }, (_, i) => `<line x1="1760" y1="280" x2="1760" y2="296" stroke="#333" stroke-width="6" transform="rotate(${i * 30} 1760 360)"/>`).join('')}
  <line x1="1760" y1="360" x2="1760" y2="300" stroke="#222" stroke-width="10" stroke-linecap="round" transform="rotate(300 1760 360)"/>
  <line x1="1760" y1="360" x2="1760" y2="280" stroke="#222" stroke-width="6" stroke-linecap="round" transform="rotate(60 1760 360)"/>

  <!-- framed poster: mountains and a lake, no text -->
  <rect x="1980" y="240" width="440" height="560" fill="#2b2b2b"/>
  <rect x="2005" y="265" width="390" height="510" fill="#f6e7c1"/>
  <polygon points="2005,640 2120,420 2230,600 2300,500 2395,640" fill="#5c7a99"/>
  <polygon points="2120,420 2160,490 2090,490" fill="#fff"/>
  <rect x="2005" y="640" width="390" height="135" fill="#3f8fb0"/>
  <circle cx="2330" cy="340" r="40" fill="#f2a33a"/>

  <!-- the wait-time sign, top-right: the detail the question is about -->
  <rect x="${s.x + 60}" y="40" width="7" height="${s.y - 40}" fill="#777"/><rect x="${s.x + s.width - 67}" y="40" width="7" height="${s.y - 40}" fill="#777"/>
  <rect x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}" rx="10" fill="#1d1f24" stroke="#9aa0a6" stroke-width="6"/>
  <text x="${s.x + s.width / 2}" y="${s.y + 34}" font-family="${FONT}" font-size="28" font-weight="700" fill="#ffffff" text-anchor="middle" dominant-baseline="central">WAIT TIME</text>
  <text x="${s.x + s.width / 2}" y="${s.y + 80}" font-family="${FONT}" font-size="40" font-weight="700" fill="#ffb42e" text-anchor="middle" dominant-baseline="central">25 MIN</text>

  <!-- notice board, plant, water cooler, bin -->
  ${noticeBoard()}
  <path d="M880 1320 h150 l-22 150 h-106 z" fill="#b5562f"/>
  <path d="M955 1320 q-90 -120 -60 -260 q40 110 60 260 q10 -170 70 -250 q0 150 -70 250 q60 -90 130 -110 q-60 70 -130 110" fill="#3d7d3a"/>
  <rect x="2920" y="980" width="70" height="470" fill="#d7dde2"/>
  <rect x="2928" y="880" width="54" height="110" rx="20" fill="#9fd0ee" opacity="0.9"/>
  <rect x="1450" y="1330" width="80" height="120" rx="6" fill="#5b6770"/>

  <!-- chairs -->
  ${chairs()}
</svg>`;
}

/** Renders the demo image as JPEG bytes. */
export async function renderDemoImage(): Promise<Buffer> {
  return sharp(Buffer.from(demoSvg())).flatten({ background: '#ffffff' }).jpeg({ quality: 90 }).toBuffer();
}
