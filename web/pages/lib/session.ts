/**
 * The API key a page signs in with. It lives in this tab's sessionStorage only: never in a URL,
 * never in localStorage or a cookie, gone when the tab closes. Each page keeps its own.
 */
const slot = (page: string) => `webdial.key.${page}`;

export const savedKey = (page: string): string | null => {
  try {
    return sessionStorage.getItem(slot(page));
  } catch {
    return null; // storage disabled: sign in again on every load
  }
};

export const saveKey = (page: string, key: string): void => {
  try {
    sessionStorage.setItem(slot(page), key);
  } catch {
    /* storage disabled: the key lives in memory only */
  }
};

export const forgetKey = (page: string): void => {
  try {
    sessionStorage.removeItem(slot(page));
  } catch {
    /* nothing stored */
  }
};
