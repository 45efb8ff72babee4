/**
 * The pages' GraphQL client types, generated from schema.graphql by gql.tada
 * (`gql.tada generate output`, run by `npm run build:pages`, writes graphql-env.d.ts). Every
 * document the pages send is written with `graphql(...)` and type-checked against the schema.
 */
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  // Fragments are plain field lists here (no masking): the pages are small and read them directly.
  disableMasking: true;
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; Long: number };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
