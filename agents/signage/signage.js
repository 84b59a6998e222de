// A sample signage player: asks the store agent who is here now (k-anonymous counts by segment) and
// shows the playlist of the segment most present. Settings come from the URL fragment, never sent to a
// server: #token=...&zone=window&poll=5000&playlists=<JSON {segment: {kicker, headline, body}}>.
'use strict';

const DEFAULT_PLAYLISTS = {
  default: { kicker: 'Welcome', headline: "This week's offers", body: "Ask our team about today's deals." },
  regulars: { kicker: 'Good to see you again', headline: 'Members save 10% today', body: 'Show your loyalty card at the till.' },
  new: { kicker: 'First time here?', headline: '15% off your first purchase', body: 'Sign up for the newsletter at the till.' },
  returning: { kicker: 'Welcome back', headline: 'New arrivals since your last visit', body: 'Fresh collection on the first floor.' },
  lingerers: { kicker: 'Take your time', headline: 'Free coffee at the lounge', body: 'Our stylists are happy to help.' },
  'multi-store': { kicker: 'You know our stores', headline: 'Order here, pick up anywhere', body: 'Free click & collect in every store.' },
};

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get('token') || sessionStorage.getItem('omniloop-signage-token') || '';
if (params.get('token')) {
  sessionStorage.setItem('omniloop-signage-token', params.get('token'));
  history.replaceState(null, '', location.pathname); // the token does not stay in the address bar
}
const zone = params.get('zone') || '';
const pollMs = Math.max(1000, Number(params.get('poll')) || 5000);
let playlists = DEFAULT_PLAYLISTS;
try {
  if (params.get('playlists')) playlists = { ...DEFAULT_PLAYLISTS, ...JSON.parse(params.get('playlists')) };
} catch {
  /* keep the defaults */
}

/** The segment with the most people present that has a playlist; ties go to the first in the playlist order. */
function choose(mix) {
  if (!mix || mix.present === null || mix.present === 0) return 'default';
  let best = 'default';
  let most = 0;
  for (const name of Object.keys(playlists)) {
    const n = mix.segments[name];
    if (typeof n === 'number' && n > most) {
      best = name;
      most = n;
    }
  }
  return best;
}

function show(name, mix, why) {
  const p = playlists[name] || playlists.default;
  const screen = document.getElementById('screen');
  if (screen.dataset.playlist !== name) {
    screen.dataset.playlist = name;
    document.getElementById('kicker').textContent = p.kicker;
    document.getElementById('headline').textContent = p.headline;
    document.getElementById('body').textContent = p.body;
  }
  document.getElementById('why').textContent = why;
  const mixEl = document.getElementById('mix');
  mixEl.replaceChildren();
  if (mix && mix.present !== null) {
    for (const [seg, n] of Object.entries(mix.segments)) {
      const s = document.createElement('span');
      s.append(`${seg} `);
      const b = document.createElement('b');
      b.textContent = n === null ? `<${mix.k}` : String(n);
      s.append(b);
      mixEl.append(s);
    }
  }
}

async function tick() {
  try {
    const res = await fetch(`/v1/now${zone ? `?zone=${encodeURIComponent(zone)}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 401) return show('default', null, 'not authorized: open this page with #token=… from the agent config');
    const mix = await res.json();
    if (!res.ok) return show('default', null, mix.error || `agent answered ${res.status}`);
    const name = choose(mix);
    const who = mix.present === null ? `fewer than ${mix.k} people` : `${mix.present} people`;
    show(name, mix, `${mix.zone}: ${who} now — playing "${name}"`);
  } catch {
    show('default', null, 'the store agent does not answer; showing the default playlist');
  } finally {
    setTimeout(tick, pollMs);
  }
}

window.omniloopSignage = { choose };
tick();
