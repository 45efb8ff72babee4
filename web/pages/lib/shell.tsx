import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, request } from './client';
import { graphql, type ResultOf } from './graphql';
import { forgetKey, saveKey, savedKey } from './session';

const VIEWER = graphql(`
  query Viewer {
    viewer {
      role
      merchantId
      merchantName
      callCenterId
    }
  }
`);

type Role = ResultOf<typeof VIEWER>['viewer']['role'];

/** Who is signed in, and the merchant whose data the page shows. */
export interface Session {
  key: string;
  role: Role;
  merchantId: string;
  merchantName: string;
  /** The call center of an AGENT key. */
  callCenterId: string | null;
  signOut(): void;
}

export type PageName = 'console' | 'dashboard' | 'history';

const PAGES: Array<{ name: PageName; path: string; title: string }> = [
  { name: 'console', path: '/console', title: 'Agent console' },
  { name: 'dashboard', path: '/dashboard', title: 'Merchant dashboard' },
  { name: 'history', path: '/history', title: 'Call history and replay' },
];

interface ShellProps {
  page: PageName;
  /** Roles this page works with (ADMIN always, with ?merchant= naming the merchant). */
  roles: readonly Role[];
  children: (session: Session) => ComponentChildren;
}

/** The merchant the URL names (?merchant=m_…): merchant ids may be in a URL, keys never. */
const merchantInUrl = (): string | null => new URLSearchParams(location.search).get('merchant');

const explain = (e: unknown): string => {
  if (e instanceof ApiError) {
    if (e.code === 'UNAUTHENTICATED') return 'This key is not valid: it is unknown, mistyped or revoked. Check it and sign in again.';
    if (e.code === 'NETWORK') return e.message;
    return `${e.message} (${e.code})`;
  }
  return String(e);
};

/** Checks a key against the page: its role, and that it may see the merchant the page is for. */
const check = async (page: ShellProps, key: string): Promise<Omit<Session, 'signOut'>> => {
  const { viewer } = await request(key, VIEWER, {});
  const wanted = merchantInUrl();
  const roles = page.roles.join(' or ');
  if (viewer.role !== 'ADMIN' && !page.roles.includes(viewer.role)) throw new Error(`This page needs a ${roles} key; this is a ${viewer.role} key.`);
  if (viewer.role === 'ADMIN') {
    if (!wanted) throw new Error('An ADMIN key sees every merchant: add ?merchant=<merchant id> to the address to choose one.');
    return { key, role: viewer.role, merchantId: wanted, merchantName: wanted, callCenterId: null };
  }
  if (!viewer.merchantId) throw new Error(`This ${viewer.role} key is not bound to a merchant.`);
  if (wanted && wanted !== viewer.merchantId)
    throw new Error(`This key belongs to another merchant: this page is for merchant ${wanted}. Nothing of that merchant is shown. Sign in with one of its keys.`);
  return { key, role: viewer.role, merchantId: viewer.merchantId, merchantName: viewer.merchantName ?? viewer.merchantId, callCenterId: viewer.callCenterId };
};

/**
 * Every page's frame: the header and navigation, the sign-in form while no valid key is held, and
 * then the page itself. A wrong key, a key of another role or of another merchant gets a clear
 * message and nothing of the page's data.
 */
export const Shell = (props: ShellProps) => {
  const title = PAGES.find((p) => p.name === props.page)!.title;
  const [session, setSession] = useState<Session | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  const signOut = () => {
    forgetKey(props.page);
    setSession(null);
    setProblem(null);
  };
  const signIn = async (key: string, remembered: boolean) => {
    setChecking(true);
    try {
      const s = await check(props, key.trim());
      saveKey(props.page, key.trim());
      setSession({ ...s, signOut });
      setProblem(null);
    } catch (e) {
      if (remembered) forgetKey(props.page);
      setProblem(e instanceof Error && !(e instanceof ApiError) ? e.message : explain(e));
    } finally {
      setChecking(false);
    }
  };
  useEffect(() => {
    document.title = `${title} · webdial`;
    const key = savedKey(props.page);
    if (key) void signIn(key, true);
  }, []);

  return (
    <>
      <header class="top">
        <span class="brand">webdial</span>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a href={p.path + location.search} aria-current={p.name === props.page ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        {session && (
          <div class="who">
            <span data-testid="signed-in">
              {session.merchantName} · {session.role} key{session.callCenterId ? ` · call center ${session.callCenterId}` : ''}
            </span>
            <button type="button" class="secondary" onClick={session.signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">
        <h1>{title}</h1>
        {session ? props.children(session) : <SignIn roles={props.roles} problem={problem} checking={checking} onSubmit={(k) => void signIn(k, false)} />}
      </main>
    </>
  );
};

const SignIn = (p: { roles: readonly Role[]; problem: string | null; checking: boolean; onSubmit(key: string): void }) => {
  const [key, setKey] = useState('');
  return (
    <form
      class="card signin"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) p.onSubmit(key);
      }}
    >
      <p data-testid="signin-needed">
        Sign in with a {p.roles.join(' or ')} key of your merchant. The key stays in this tab only (session storage) and is sent in the Authorization header, never in an address.
      </p>
      <label for="api-key">API key</label>
      <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} required />
      <button type="submit" disabled={p.checking}>
        {p.checking ? 'Checking…' : 'Sign in'}
      </button>
      {p.problem && (
        <p role="alert" class="error" data-testid="signin-error">
          {p.problem}
        </p>
      )}
    </form>
  );
};

/** An error of an action, shown where it happened (role=alert: screen readers announce it). */
export const Problem = (p: { error: unknown }) =>
  p.error ? (
    <p role="alert" class="error">
      {explain(p.error)}
    </p>
  ) : null;

export { explain };
