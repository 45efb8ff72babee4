// Asset imports Vite resolves at build time (CSS side-effect imports).
declare module '*.css';
