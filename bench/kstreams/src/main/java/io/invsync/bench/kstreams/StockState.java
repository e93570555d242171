package io.invsync.bench.kstreams;

import java.nio.ByteBuffer;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * One stock record's state as the peer keeps it in RocksDB (and in the
 * store's changelog): onHand and version, 16 bytes big-endian. A record
 * never seen has onHand 0 and version 0, as in invsync.
 */
record StockState(long onHand, long version) {
    static final StockState EMPTY = new StockState(0, 0);

    /** The state after a change of delta to onHand. */
    StockState apply(long delta) {
        return new StockState(onHand + delta, version + 1);
    }

    /**
     * The store key of one stock record: warehouse, item, location and lot
     * joined by NUL, which no id contains, so distinct records never share
     * a key.
     */
    static String key(String warehouseId, String itemId, String locationId, String lotNumber) {
        return warehouseId + '\0' + itemId + '\0' + locationId + '\0' + lotNumber;
    }

    static Serde<StockState> serde() {
        Serializer<StockState> ser = (topic, s) -> s == null ? null
            : ByteBuffer.allocate(16).putLong(s.onHand).putLong(s.version).array();
        Deserializer<StockState> de = (topic, b) -> {
            if (b == null) {
                return null;
            }
            if (b.length != 16) {
                throw new SerializationException("stock state: " + b.length + " bytes, want 16");
            }
            ByteBuffer buf = ByteBuffer.wrap(b);
            return new StockState(buf.getLong(), buf.getLong());
        };
        return Serdes.serdeFrom(ser, de);
    }
}
