/**
 * The typed settings the loader produces, inferred from the schema (see
 * schema.ts for each one's meaning and format).
 */
import type { Parsed, SCHEMA } from './schema';

export type Settings = Parsed<typeof SCHEMA>;
export type FilterSettings = Settings['filters'];
