/*
 * webdial call button (the loader). Put on a merchant page:
 *   <script src="https://webdial.example/widget.js" data-merchant="m_…" data-link="l_…" data-customer="c-123"></script>
 * It only renders the button; the first click loads the call client (/widget/call.js, with the
 * LiveKit client bundled in) from the same server. Keep this file small: it is on every page.
 */
export interface WidgetConfig {
  merchant: string;
  link: string;
  customer?: string;
  session?: string;
  label?: string;
  context?: string;
  /** Present (`data-debug`): the call client and LiveKit log to the console; silent otherwise. */
  debug?: string;
}

/** What the loader hands to the call client. */
export interface WidgetHost {
  /** Origin of the webdial server that served the loader. */
  base: string;
  config: WidgetConfig;
  /** The shadow root everything is drawn in (the page's CSS cannot reach it, nor ours leak out). */
  root: ShadowRoot;
  button: HTMLButtonElement;
  status: HTMLElement;
  label: string;
}

((script) => {
  if (!script) return;
  const base = new URL(script.src).origin;
  const config = { ...script.dataset } as unknown as WidgetConfig;
  const label = `\u{1F4DE} ${config.label || 'Call us'}`;
  const hostEl = document.createElement('div');
  hostEl.setAttribute('data-webdial', '');
  const root = hostEl.attachShadow({ mode: 'open' });
  root.innerHTML =
    '<style>:host{all:initial}.w{position:fixed;bottom:20px;right:20px;font:14px/1.4 system-ui,sans-serif;color:#222;background:#fff;' +
    'border:1px solid #ccc;border-radius:10px;padding:12px;box-shadow:0 2px 10px rgba(0,0,0,.2);z-index:2147483000;max-width:300px}' +
    'button{font:inherit;padding:7px 12px;border-radius:6px;border:1px solid #888;background:#f6f6f6;cursor:pointer}' +
    '.s{margin-top:8px}</style><div class="w" part="widget"><button class="b" part="button"></button><div class="s" role="status" aria-live="polite"></div></div>';
  const button = root.querySelector('button')!;
  const status = root.querySelector('.s') as HTMLElement;
  button.textContent = label;
  let loading: Promise<{ start(host: WidgetHost): void }> | null = null;
  button.addEventListener('click', () => {
    if (loading) return; // the call client takes the button over once loaded
    status.textContent = 'Connecting\u2026';
    loading = import(/* @vite-ignore */ `${base}/widget/call.js`);
    loading.then(
      (m) => m.start({ base, config, root, button, status, label }),
      () => {
        loading = null;
        status.textContent = 'The call service cannot be reached. Please try again.';
      },
    );
  });
  const mount = () => document.body.appendChild(hostEl);
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})(document.currentScript as HTMLScriptElement | null);
