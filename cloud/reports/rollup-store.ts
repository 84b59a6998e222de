/**
 * What the database keeps for the reports (issue 15): a rollup per tenant-day (reports/tenant-day.ts,
 * before k-anonymity), and a mark on every tenant-day that changed since its rollup was computed. Ingest
 * and erasure set the marks in their own transactions; a refresh takes them off, computes, and saves
 * under a generation, so a slower refresh that started earlier never overwrites a later one.
 */
import type { DeviceDay, RawTenantDay } from './tenant-day.js';

export interface DayMark {
  tenant: string;
  epoch: string;
}

export interface StoredRollup {
  gen: number;
  version: number;
  computedMs: number;
  /** Changed since (a mark is on the day). */
  dirty: boolean;
  day: RawTenantDay;
}

export interface RollupStore {
  /** Marked days, oldest rollup first (never computed: first of all), with when their rollup was computed. */
  dirty(limit: number): Promise<(DayMark & { computedMs: number | null })[]>;
  /**
   * Takes the marks off these days and returns the generation to save their rollups with. Every ingest
   * that commits after this marks its day again; every one before it is in what the refresh reads next.
   */
  claim(days: readonly DayMark[]): Promise<number>;
  /** Puts marks back on days (a refresh that failed). */
  mark(days: readonly DayMark[]): Promise<void>;
  /**
   * Saves a tenant-day's rollup, with the visits of those of its devices that are in the graph (a link
   * named them), unless one of a later generation is there already. A link marks its day, so a device
   * linked later is in the next computation.
   */
  save(tenant: string, gen: number, computedMs: number, day: RawTenantDay, devices: readonly DeviceDay[]): Promise<void>;
  /**
   * The visits of the devices of these days that are in a profile (stored graph), with the profile: the
   * period reports' input — the graph's index of profiled devices by day, and each day's kept visits.
   */
  profiledDevices(tenant: string, epochs: readonly string[]): Promise<{ profile: string; epoch: string; device: DeviceDay }[]>;
  get(tenant: string, epoch: string): Promise<StoredRollup | null>;
  /** Of several days' rollups only their generation, mark and age (one statement): what a kept answer is keyed by. */
  stamps(tenant: string, epochs: readonly string[]): Promise<Map<string, { gen: number; dirty: boolean; computedMs: number }>>;
  /** The rollups of several days of a tenant (one statement), by epoch. */
  getMany(tenant: string, epochs: readonly string[]): Promise<Map<string, StoredRollup>>;
  /** Which of these days have any batch of the tenant (store_days): a day without one has no figures to compute. */
  daysWithData(tenant: string, epochs: readonly string[]): Promise<Set<string>>;
  /** Distinct Consumer-IDs over every tenant-day's rollup. */
  consumerIds(): Promise<number>;
}
