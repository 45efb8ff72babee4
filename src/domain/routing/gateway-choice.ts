/**
 * Which PSTN gateway to try first for a call center: the nearest region first.
 *
 * Region nearness is deliberately simple and documented here, because regions are free-form labels
 * the operator chooses ("us-east", "eu-west", "de-fra"):
 *   distance 0  same region (case-insensitive):               "us-east" ~ "us-east"
 *   distance 1  same area, the part before the first '-':     "us-east" ~ "us-west"
 *   distance 2  anything else:                                "us-east" ~ "eu-west"
 * Ties keep the input order (a stable sort), so the operator's registration order decides among equals.
 */
export const regionArea = (region: string): string => {
  const r = region.trim().toLowerCase();
  const dash = r.indexOf('-');
  return dash < 0 ? r : r.slice(0, dash);
};

export const regionDistance = (a: string, b: string): 0 | 1 | 2 => {
  if (a.trim().toLowerCase() === b.trim().toLowerCase()) return 0;
  return regionArea(a) === regionArea(b) ? 1 : 2;
};

/** Gateway ids, nearest to `centerRegion` first, ties in input order. */
export const orderGateways = (gateways: ReadonlyArray<{ gatewayId: string; region: string }>, centerRegion: string): string[] =>
  gateways
    .map((g, index) => ({ id: g.gatewayId, index, distance: regionDistance(g.region, centerRegion) }))
    .sort((x, y) => x.distance - y.distance || x.index - y.index)
    .map((g) => g.id);
