/**
 * The HQ dashboard's static assets, served by the API server without a token: the page holds no data,
 * and every data request it makes carries the bearer token.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CONTENT_TYPES, packageRoot, staticSite } from '../../shared/http/static-site.js';

const ASSET_DIR = join(packageRoot(), 'cloud', 'dashboard');

/** ECharts' prebuilt bundle, wherever npm placed the package (its exports do not expose dist/ directly). */
function echartsBundle(): string {
  return join(dirname(createRequire(import.meta.url).resolve('echarts')), 'echarts.min.js');
}

/**
 * ECharts writes inline style attributes into its tooltips, hence 'unsafe-inline' for styles only;
 * scripts and data come from this origin alone, so the page cannot leak the token elsewhere.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Our own files revalidate on every load (cheap 304s), so an upgrade shows at once; ECharts only changes with an npm upgrade. */
export const serveDashboard = staticSite('dashboard', {
  'index.html': { file: () => join(ASSET_DIR, 'index.html'), type: CONTENT_TYPES.html, cache: 'no-cache', csp: CSP },
  'dashboard.js': { file: () => join(ASSET_DIR, 'dashboard.js'), type: CONTENT_TYPES.js, cache: 'no-cache' },
  'dashboard.css': { file: () => join(ASSET_DIR, 'dashboard.css'), type: CONTENT_TYPES.css, cache: 'no-cache' },
  'favicon.svg': { file: () => join(ASSET_DIR, 'favicon.svg'), type: CONTENT_TYPES.svg, cache: 'public, max-age=86400' },
  'echarts.min.js': { file: echartsBundle, type: CONTENT_TYPES.js, cache: 'public, max-age=86400', immutable: true },
});
