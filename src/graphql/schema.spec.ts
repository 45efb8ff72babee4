import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { schemaSdl } from './schema';

const CONTRACT = join(process.cwd(), '..', 'shared', 'contract.graphql');

/** Every type, field, argument and enum value of the contract, with its nullability, as a flat list. */
const contractNames = (schema: GraphQLSchema, only?: Set<string>): string[] => {
  const out: string[] = [];
  const types = Object.values(schema.getTypeMap()).filter((t: GraphQLNamedType) => !t.name.startsWith('__') && (!only || only.has(t.name)));
  for (const t of types) {
    if (isScalarType(t)) out.push(`scalar ${t.name}`);
    else if (isEnumType(t)) for (const v of t.getValues()) out.push(`enum ${t.name}.${v.name}`);
    else if (isObjectType(t) || isInterfaceType(t)) {
      for (const f of Object.values(t.getFields())) {
        out.push(`type ${t.name}.${f.name}: ${f.type}`);
        for (const a of f.args) out.push(`type ${t.name}.${f.name}(${a.name}: ${a.type})`);
      }
    } else if (isInputObjectType(t)) for (const f of Object.values(t.getFields())) out.push(`input ${t.name}.${f.name}: ${f.type}`);
    else if (isUnionType(t)) out.push(`union ${t.name}`);
  }
  return out.sort();
};

test('schema.graphql contains every name of ../shared/contract.graphql, unchanged', async (t) => {
  if (!existsSync(CONTRACT)) {
    if (process.env.CI === 'true') assert.fail(`${CONTRACT} is missing`);
    t.skip(`${CONTRACT} not found beside the checkout`);
    return;
  }
  const contract = buildSchema(readFileSync(CONTRACT, 'utf8'));
  const ours = buildSchema(readFileSync('schema.graphql', 'utf8'));
  const ourNames = new Set(contractNames(ours));
  const missing = contractNames(contract).filter((n) => !ourNames.has(n));
  assert.deepEqual(missing, [], `schema.graphql lacks or changes these contract names:\n${missing.join('\n')}`);
});

test('schema.graphql is what the code generates (run `npm run schema` when this fails)', async () => {
  assert.equal(readFileSync('schema.graphql', 'utf8'), await schemaSdl(), 'schema.graphql is stale: run `npm run schema` and commit it');
});
