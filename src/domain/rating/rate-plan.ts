/** A merchant's rate plan. Money is in integer minor units of `currency` (ISO 4217). */
export interface RatePlan {
  /** 1 for the merchant's first plan, +1 for each later setRatePlan. */
  version: number;
  currency: string;
  connectionFeeMinor: number;
  /** Default per-minute rate when no prefix matches. */
  ratePerMinuteMinor: number;
  /** First billing increment in seconds (60 in 60/60, 30 in 30/6, 1 in 1/1). */
  firstIncrementSeconds: number;
  /** Every later increment in seconds. */
  nextIncrementSeconds: number;
  minimumChargeMinor: number;
  /**
   * Per-minute rate of INBOUND calls (a phone called one of the merchant's numbers, issue 23); absent
   * or null: `ratePerMinuteMinor`. Prefix rates are for numbers dialled out and never apply to them.
   */
  inboundRatePerMinuteMinor?: number | null;
  /**
   * Per-minute rate of CALLBACK calls (webdial calls a shopper back, issue 25); absent or null:
   * `ratePerMinuteMinor`. Prefix rates do not apply to them either.
   */
  callbackRatePerMinuteMinor?: number | null;
  /** Longest matching E.164 prefix wins, e.g. "+44" or "+4420". */
  prefixRates: Array<{ prefix: string; ratePerMinuteMinor: number }>;
}
