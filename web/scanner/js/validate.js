// Local checks of a scan before it is queued: the same rules the server
// applies at ingest, against the device's copy of the catalog, so a scan in
// a WiFi dead zone is caught while the operator still stands at the shelf.
// Pure functions: no DOM, no storage.

export const DEFAULT_MAX_QUANTITY = 100000;

const INTEGER = /^[+-]?\d{1,15}$/;

/** Parses a quantity as typed ("12", "-3", "+3"); null when not an integer. */
export function parseQuantity(text) {
  const t = String(text ?? "").trim().replace(/^\u2212/, "-");
  if (!INTEGER.test(t)) return null;
  return Number(t);
}

/**
 * Checks a draft scan. draft: {type, warehouseId, locationId, toLocationId,
 * itemId, lotNumber, quantity (text)}; catalog: {warehouseKnown, locations:
 * Set, items: Map} or null. Answers {errors: {field: message}, notes:
 * [message]}; a scan with no errors may be queued.
 */
export function validate(draft, catalog) {
  const errors = {};
  const notes = [];
  const loc = (draft.locationId || "").trim();
  const to = (draft.toLocationId || "").trim();
  const itemId = (draft.itemId || "").trim();
  const lot = (draft.lotNumber || "").trim();
  const move = draft.type === "MOVE";

  if (!loc) errors.locationId = move ? "Scan the location the stock comes from." : "Scan the location.";
  if (!itemId) errors.itemId = "Scan the item.";
  if (move && !to) errors.toLocationId = "Scan the location the stock goes to.";
  if (move && loc && to && loc === to) errors.toLocationId = "The destination must differ from the source location.";

  const q = parseQuantity(draft.quantity);
  if (String(draft.quantity ?? "").trim() === "") {
    errors.quantity = draft.type === "CYCLE_COUNT" ? "Enter the counted quantity." : "Enter the quantity.";
  } else if (q === null) {
    errors.quantity = "The quantity must be a whole number.";
  } else {
    switch (draft.type) {
      case "RECEIPT":
      case "PICK":
      case "MOVE":
        if (q <= 0) errors.quantity = `A ${draft.type.toLowerCase()} quantity must be more than 0.`;
        break;
      case "ADJUSTMENT":
        if (q === 0) errors.quantity = "An adjustment must not be 0: use + to add, − to remove.";
        break;
      case "CYCLE_COUNT":
        if (q < 0) errors.quantity = "A counted quantity cannot be negative.";
        break;
      default:
        errors.type = "Choose a scan type.";
    }
  }

  if (!catalog) {
    notes.push("No catalog on this device yet: item and location are checked when the scan is uploaded.");
    return { errors, notes };
  }
  if (!catalog.warehouseKnown) {
    notes.push(`Warehouse ${draft.warehouseId} is not in the catalog: scans will be rejected.`);
  }
  if (loc && !errors.locationId && !catalog.locations.has(loc)) {
    errors.locationId = `Location ${loc} is not in warehouse ${draft.warehouseId}.`;
  }
  if (move && to && !errors.toLocationId && !catalog.locations.has(to)) {
    errors.toLocationId = `Location ${to} is not in warehouse ${draft.warehouseId}.`;
  }
  const item = itemId ? catalog.items.get(itemId) : undefined;
  if (itemId && !item) {
    errors.itemId = `Unknown item ${itemId}: it is not in the catalog.`;
  }
  if (item) {
    if (item.lotTracked && !lot) errors.lotNumber = `${itemId} is lot-tracked: scan the lot number.`;
    const max = item.maxTransactionQuantity > 0 ? item.maxTransactionQuantity : DEFAULT_MAX_QUANTITY;
    if (q !== null && !errors.quantity && Math.abs(q) > max) {
      errors.quantity = `${Math.abs(q)} is more than the limit of ${max} for ${itemId}: check the quantity.`;
    }
  }
  return { errors, notes };
}
