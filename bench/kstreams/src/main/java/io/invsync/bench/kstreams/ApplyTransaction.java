package io.invsync.bench.kstreams;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

import io.invsync.v1.EventType;
import io.invsync.v1.InventoryEvent;
import io.invsync.v1.Transaction;

/**
 * Applies scanner transactions to per-record stock, once each.
 *
 * <p>For every input transaction: if its transactionId is in the applied
 * store, nothing happens (a redelivered or resent transaction changes
 * nothing and yields no event). Otherwise RECEIPT adds its quantity to the
 * record (warehouse, item, location, lot), PICK subtracts it, ADJUSTMENT adds
 * its signed quantity, MOVE subtracts at the location and adds at
 * toLocationId; each changed record gets version + 1 and one event,
 * eventId "evt-&lt;transactionId&gt;-&lt;leg&gt;" (leg 1, and 2 for a
 * MOVE's destination), keyed by stock key. A scan is a fact: a PICK below
 * zero is applied, with the warning NEGATIVE_ON_HAND, as invsync does.
 *
 * <p>CYCLE_COUNT is outside the peer's job (invsync rebases a count on a
 * ledger of later deltas; doing that here is a different program) and a MOVE
 * without a destination is invalid: both are recorded as seen, change
 * nothing and yield no event. The bench never sends either.
 *
 * <p>Both stores are RocksDB stores with changelogs, updated in the same
 * Kafka transaction as the input offsets and the events (exactly_once_v2),
 * so a crash anywhere neither loses nor repeats an effect.
 */
final class ApplyTransaction implements Processor<String, Transaction, String, InventoryEvent> {
    static final String STOCK_STORE = "stock-records";
    static final String APPLIED_STORE = "applied-transactions";

    /** Values of the applied store: what became of a transactionId. */
    static final byte[] APPLIED = {1};
    static final byte[] SKIPPED = {2};

    static final String WARN_NEGATIVE_ON_HAND = "NEGATIVE_ON_HAND";

    /** Counters of one application instance, for its periodic log line. */
    static final class Counters {
        final LongAdder applied = new LongAdder();
        final LongAdder duplicates = new LongAdder();
        final LongAdder skipped = new LongAdder();
        final LongAdder events = new LongAdder();
    }

    private final LongSupplier clock;
    private final Counters counters;
    private ProcessorContext<String, InventoryEvent> context;
    private KeyValueStore<String, StockState> stock;
    private KeyValueStore<String, byte[]> applied;

    ApplyTransaction(LongSupplier clock, Counters counters) {
        this.clock = clock;
        this.counters = counters;
    }

    @Override
    public void init(ProcessorContext<String, InventoryEvent> context) {
        this.context = context;
        this.stock = context.getStateStore(STOCK_STORE);
        this.applied = context.getStateStore(APPLIED_STORE);
    }

    @Override
    public void process(Record<String, Transaction> record) {
        Transaction tx = record.value();
        if (tx == null) {
            return; // a tombstone is not a transaction
        }
        String id = tx.getTransactionId();
        if (applied.get(id) != null) {
            counters.duplicates.increment();
            return;
        }
        long q = tx.getQuantity();
        String from = tx.getLocationId();
        byte[] outcome = APPLIED;
        switch (tx.getType()) {
            case RECEIPT -> change(record, tx, from, q, 1, EventType.InventoryReceipt);
            case PICK -> change(record, tx, from, -q, 1, EventType.InventoryPick);
            case ADJUSTMENT -> change(record, tx, from, q, 1, EventType.InventoryAdjustment);
            case MOVE -> {
                String to = tx.getToLocationId();
                if (to == null || to.isEmpty() || to.equals(from)) {
                    outcome = SKIPPED;
                } else {
                    change(record, tx, from, -q, 1, EventType.InventoryMove);
                    change(record, tx, to, q, 2, EventType.InventoryMove);
                }
            }
            default -> outcome = SKIPPED;
        }
        applied.put(id, outcome);
        (outcome == APPLIED ? counters.applied : counters.skipped).increment();
    }

    /** Applies delta to one record, stores it and forwards its event. */
    private void change(Record<String, Transaction> record, Transaction tx, String location, long delta, int leg, EventType type) {
        String key = StockState.key(tx.getWarehouseId(), tx.getItemId(), location, tx.getLotNumber());
        StockState before = stock.get(key);
        StockState after = (before == null ? StockState.EMPTY : before).apply(delta);
        stock.put(key, after);
        List<String> warnings = after.onHand() < 0 ? List.of(WARN_NEGATIVE_ON_HAND) : List.of();
        String lot = tx.getLotNumber();
        InventoryEvent event = new InventoryEvent(
            "evt-" + tx.getTransactionId() + "-" + leg,
            Instant.ofEpochMilli(clock.getAsLong()),
            type,
            tx.getItemId(),
            tx.getWarehouseId(),
            location,
            lot.isEmpty() ? null : lot,
            delta,
            after.onHand(),
            tx.getTransactionId(),
            tx.getScannerId(),
            tx.getUserId(),
            after.version(),
            0L, // allocated: the peer has no allocations
            after.onHand(), // available = onHand - allocated
            tx.getDeviceTimestamp(),
            tx.getCorrectedTimestamp(),
            warnings,
            tx.getAllocationId(),
            tx.getPrincipal()); // who uploaded it, as invsync's events carry
        String stockKey = tx.getWarehouseId() + "/" + tx.getItemId();
        context.forward(record.withKey(stockKey).withValue(event));
        counters.events.increment();
    }
}
