// Transaction ids: UUID v4 from the platform, or from getRandomValues where
// randomUUID is missing (a page served over plain HTTP to a LAN address).

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A W3C traceparent for one upload: a new trace of its own, marked sampled,
 * which the server continues through Kafka to the event and the mirror's
 * row (README, "Observability").
 */
export function traceparent() {
  const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `00-${hex(16)}-${hex(8)}-01`;
}
